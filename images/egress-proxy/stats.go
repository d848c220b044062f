// Live figures for whoever watches the sandbox (the idle tracker reads them with one archive call):
// open connections, totals and bytes, in a small JSON file replaced atomically (temp file and
// rename), written within a second of any change and never more than once a second. Nothing
// here runs on the data path but adding to counters and a non-blocking nudge to the writer.

package main

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const defaultStatsPath = "/var/lib/sandboxshift-egress/stats.json"

type liveStats struct {
	startedAt         time.Time
	mu                sync.Mutex
	policyHash        string
	open              atomic.Int64
	connectionsTotal  atomic.Int64
	requestsTotal     atomic.Int64
	deniedTotal       atomic.Int64
	bytesUp           atomic.Int64
	bytesDown         atomic.Int64
	lastActivityMilli atomic.Int64 // 0: none yet
	stopped           atomic.Bool  // the proxy has shut down: nothing is open any more
	changed           chan struct{}
}

func newLiveStats(policyHash string) *liveStats {
	return &liveStats{startedAt: time.Now(), policyHash: policyHash, changed: make(chan struct{}, 1)}
}

func (s *liveStats) nudge() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *liveStats) active() { s.lastActivityMilli.Store(time.Now().UnixMilli()) }

func (s *liveStats) policy(hash string) {
	s.mu.Lock()
	s.policyHash = hash
	s.mu.Unlock()
	s.nudge()
}

func (s *liveStats) decision(allow bool) {
	s.requestsTotal.Add(1)
	if !allow {
		s.deniedTotal.Add(1)
	}
	s.active()
	s.nudge()
}

func (s *liveStats) opened() {
	s.open.Add(1)
	s.connectionsTotal.Add(1)
	s.nudge()
}

func (s *liveStats) closed() {
	s.open.Add(-1)
	s.nudge()
}

// waiting counts a request that waits on the proxy (its name resolving, its upstream connecting:
// up to the connect timeout when the destination drops the SYN) as an open connection of the
// sandbox's too, and as activity: without it an idle policy shorter than that wait stopped an
// environment whose every request was waiting (+1 when it starts waiting, -1 when it stops).
func (s *liveStats) waiting(delta int64) {
	s.open.Add(delta)
	s.active()
	s.nudge()
}

// stop says the proxy has shut down and closed every client connection: nothing of the sandbox's
// is open from then on, though a request that was resolving or connecting (counted by waiting)
// may take up to the connect timeout to find its client gone. The figures written last stay in
// the file once the proxy has exited, so they must not count it.
func (s *liveStats) stop() {
	s.stopped.Store(true)
	s.nudge()
}

func (s *liveStats) bytes(up, down int64) {
	s.bytesUp.Add(up)
	s.bytesDown.Add(down)
	s.active()
	s.nudge()
}

type statsSnapshot struct {
	FormatVersion    string  `json:"format_version"`
	TS               string  `json:"ts"`
	StartedAt        string  `json:"started_at"`
	PolicyHash       string  `json:"policy_hash"`
	OpenConnections  int64   `json:"open_connections"`
	ConnectionsTotal int64   `json:"connections_total"`
	RequestsTotal    int64   `json:"requests_total"`
	DeniedTotal      int64   `json:"denied_total"`
	BytesUp          int64   `json:"bytes_up"`
	BytesDown        int64   `json:"bytes_down"`
	LastActivity     *string `json:"last_activity"`
}

func (s *liveStats) snapshot(now time.Time) statsSnapshot {
	s.mu.Lock()
	hash := s.policyHash
	s.mu.Unlock()
	var last *string
	if ms := s.lastActivityMilli.Load(); ms != 0 {
		last = strPtr(isoTime(time.UnixMilli(ms)))
	}
	open := s.open.Load()
	if s.stopped.Load() {
		open = 0
	}
	return statsSnapshot{
		FormatVersion: "1", TS: isoTime(now), StartedAt: isoTime(s.startedAt), PolicyHash: hash,
		OpenConnections: open, ConnectionsTotal: s.connectionsTotal.Load(), RequestsTotal: s.requestsTotal.Load(),
		DeniedTotal: s.deniedTotal.Load(), BytesUp: s.bytesUp.Load(), BytesDown: s.bytesDown.Load(), LastActivity: last,
	}
}

// statsWriter keeps path up to date with stats: the first write at once, then at most one per
// interval, each within that long of the change that called for it. A write that fails is
// logged once (and again once after it has worked again); the proxy goes on without the file.
type statsWriter struct {
	stop    chan struct{}
	stopped chan struct{}
}

func writeStatsFile(stats *liveStats, path string, log func(string), interval time.Duration) *statsWriter {
	w := &statsWriter{stop: make(chan struct{}), stopped: make(chan struct{})}
	failing := false
	write := func() {
		temp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
		body := marshal(stats.snapshot(time.Now())) + "\n"
		err := os.WriteFile(temp, []byte(body), 0o644)
		if err == nil {
			err = os.Rename(temp, path)
		}
		if err != nil {
			if !failing {
				log(eventLine("stats-error", "path", path, "error", err.Error()))
			}
			failing = true
			return
		}
		failing = false
	}
	go func() {
		defer close(w.stopped)
		write()
		for {
			select {
			case <-w.stop:
				write()
				return
			case <-time.After(interval):
			}
			select {
			case <-w.stop:
				write()
				return
			case <-stats.changed:
				write()
			}
		}
	}()
	return w
}

// close writes the last figures and stops writing.
func (w *statsWriter) close() {
	close(w.stop)
	<-w.stopped
}
