// The proxy as a long-running service: policy from a file, reloaded on request and when the file
// changes. A file that cannot be read on reload leaves the proxy denying everything until it can
// be: keeping the old list would keep allowing what the new one may have removed. A reload keeps
// the open connections the new list still allows and closes the others. Live figures go to a
// stats file (stats.go).

package main

import (
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"sandboxshift.dev/egress/policy"
)

type serviceOptions struct {
	policyPath     string
	host           string
	port           int
	log            func(string)
	connectTimeout time.Duration
	helloTimeout   time.Duration
	watchInterval  time.Duration // how often the policy file is polled; default 1 s
	resolve        Resolver
	dial           Dialer
	statsPath      string // "": no stats file
	statsInterval  time.Duration
}

type service struct {
	proxy     *proxy
	port      int
	stats     *liveStats
	options   serviceOptions
	reloadMu  sync.Mutex
	stopOnce  sync.Once
	stopWatch chan struct{}
	watchDone chan struct{}
	writer    *statsWriter
	served    chan struct{}
}

// policyStartError is a policy file that cannot be used at all when the proxy starts.
type policyStartError struct{ msg string }

func (e *policyStartError) Error() string { return e.msg }

func startService(o serviceOptions) (*service, error) {
	// The file as it was before it was read: a change made while it is read is seen by watch().
	before := statOf(o.policyPath)
	initial, err := policy.LoadFile(o.policyPath)
	if err != nil {
		return nil, &policyStartError{err.Error()}
	}
	o.log(eventLine("policy", "trigger", "start", "path", o.policyPath, "hash", initial.Hash, "rules", initial.Policy.Entries(), "problems", initial.Problems))
	stats := newLiveStats(initial.Hash)
	if o.connectTimeout == 0 {
		o.connectTimeout = 10 * time.Second
	}
	p := newProxy(proxyOptions{policy: initial.Policy, log: o.log, connectTimeout: o.connectTimeout, helloTimeout: o.helloTimeout, resolve: o.resolve, dial: o.dial, stats: stats})
	ln, err := net.Listen("tcp", net.JoinHostPort(o.host, strconv.Itoa(o.port)))
	if err != nil {
		return nil, err
	}
	s := &service{proxy: p, port: ln.Addr().(*net.TCPAddr).Port, stats: stats, options: o, stopWatch: make(chan struct{}), watchDone: make(chan struct{}), served: make(chan struct{})}
	go func() {
		_ = p.serve(ln)
		close(s.served)
	}()
	o.log(eventLine("listening", "host", o.host, "port", s.port))
	if o.statsPath != "" {
		interval := o.statsInterval
		if interval == 0 {
			interval = time.Second
		}
		s.writer = writeStatsFile(stats, o.statsPath, o.log, interval)
	}
	go s.watch(before)
	return s, nil
}

// reloadPolicy re-reads the policy file now; trigger is logged (e.g. SIGHUP).
func (s *service) reloadPolicy(trigger string) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	path := s.options.policyPath
	loaded, err := policy.LoadFile(path)
	if err == nil {
		kept, closed := s.proxy.reload(loaded.Policy)
		s.stats.policy(loaded.Hash)
		s.options.log(eventLine("policy", "trigger", trigger, "path", path, "hash", loaded.Hash, "kept", kept, "closed", closed, "rules", loaded.Policy.Entries(), "problems", loaded.Problems))
		return
	}
	kept, closed := s.proxy.reload(policy.DenyAll)
	// The hash of what is enforced now: the empty list.
	hash := policy.Hash([]string{})
	s.stats.policy(hash)
	s.options.log(eventLine("policy-error", "trigger", trigger, "error", err.Error(), "now", "denying everything", "hash", hash, "kept", kept, "closed", closed))
}

type fileState struct {
	mtime int64
	ino   uint64
	size  int64
}

func statOf(path string) fileState {
	info, err := os.Stat(path)
	if err != nil {
		return fileState{}
	}
	st := fileState{mtime: info.ModTime().UnixNano(), size: info.Size()}
	if sys, ok := info.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st
}

// watch polls the policy file and reloads when its mtime, inode or size changes (a rename over
// it included, and its removal: then everything is denied).
func (s *service) watch(last fileState) {
	defer close(s.watchDone)
	interval := s.options.watchInterval
	if interval == 0 {
		interval = time.Second
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stopWatch:
			return
		case <-ticker.C:
			now := statOf(s.options.policyPath)
			if now != last {
				last = now
				s.reloadPolicy("file-change")
			}
		}
	}
}

// stop stops the service; a second call does nothing.
func (s *service) stop() {
	s.stopOnce.Do(s.stopNow)
}

func (s *service) stopNow() {
	close(s.stopWatch)
	<-s.watchDone
	s.proxy.shutdown()
	<-s.served
	if s.writer != nil {
		s.writer.close()
	}
	s.options.log(eventLine("stopped"))
}
