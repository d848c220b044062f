package main

// The live figures: what they count (directly and through a real proxy on loopback) and how the
// file is written (whole files only, the first at once, at most once per interval, within an
// interval of a change, a failing path logged once). A port of
// 2a29766:test/unit/egress/stats-file.test.ts; the write pattern as seen by inotify is in
// stats_linux_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sandboxshift.dev/egress/internal/hellotest"
)

const svcISO = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`

// svcStatsText is the whole file: one JSON object, its fields in this order, and a newline.
var svcStatsText = regexp.MustCompile(`^\{"format_version":"1","ts":"` + svcISO + `","started_at":"` + svcISO + `","policy_hash":"[^"]*","open_connections":-?\d+,"connections_total":\d+,"requests_total":\d+,"denied_total":\d+,"bytes_up":\d+,"bytes_down":\d+,"last_activity":(null|"` + svcISO + `")\}\n$`)

// svcParseStats checks the file's text and reads it.
func svcParseStats(text []byte) (statsSnapshot, error) {
	var s statsSnapshot
	if !svcStatsText.Match(text) {
		return s, fmt.Errorf("not a whole stats file: %q", text)
	}
	decoder := json.NewDecoder(bytes.NewReader(text))
	decoder.DisallowUnknownFields()
	err := decoder.Decode(&s)
	return s, err
}

func svcReadStats(t *testing.T, path string) statsSnapshot {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := svcParseStats(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// svcUntilStats polls the stats file until check holds (the file not written yet is no error).
func svcUntilStats(t *testing.T, path string, check func(statsSnapshot) bool) statsSnapshot {
	t.Helper()
	deadline := time.Now().Add(hWait)
	for {
		text, err := os.ReadFile(path)
		if err == nil {
			s, err := svcParseStats(text)
			if err != nil {
				t.Fatal(err)
			}
			if check(s) {
				return s
			}
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats file never matched; last: %q (%v)", text, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func svcParseISO(t *testing.T, text string) time.Time {
	t.Helper()
	at, err := time.Parse("2006-01-02T15:04:05.000Z", text)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func svcChanged(s *liveStats) bool {
	select {
	case <-s.changed:
		return true
	default:
		return false
	}
}

func TestStatsCounters(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	s := newLiveStats("sha256:x")
	now := time.Now()
	snap := s.snapshot(now)
	want := statsSnapshot{FormatVersion: "1", TS: isoTime(now), StartedAt: snap.StartedAt, PolicyHash: "sha256:x"}
	if !reflect.DeepEqual(snap, want) {
		t.Fatalf("fresh: %+v; want %+v", snap, want)
	}
	if started := svcParseISO(t, snap.StartedAt); started.Before(before) || started.After(now) {
		t.Errorf("started_at %s not between %s and %s", snap.StartedAt, before, now)
	}

	// Every change wakes the writer; opening, closing and a policy are not activity.
	step := func(what string, change func()) {
		t.Helper()
		svcChanged(s)
		change()
		if !svcChanged(s) {
			t.Errorf("%s did not signal a change", what)
		}
	}
	step("opened", s.opened)
	step("opened", s.opened)
	step("closed", s.closed)
	step("policy", func() { s.policy("sha256:y") })
	snap = s.snapshot(now)
	if snap.OpenConnections != 1 || snap.ConnectionsTotal != 2 || snap.PolicyHash != "sha256:y" || snap.LastActivity != nil {
		t.Fatalf("after opened, opened, closed, policy: %+v", snap)
	}

	// Waiting counts as an open connection (not a connection made) and as activity.
	step("waiting", func() { s.waiting(1) })
	snap = s.snapshot(now)
	if snap.OpenConnections != 2 || snap.ConnectionsTotal != 2 || snap.LastActivity == nil {
		t.Fatalf("while waiting: %+v", snap)
	}
	step("waiting", func() { s.waiting(-1) })
	if snap = s.snapshot(now); snap.OpenConnections != 1 || snap.ConnectionsTotal != 2 {
		t.Fatalf("after waiting: %+v", snap)
	}

	step("decision", func() { s.decision(true) })
	step("decision", func() { s.decision(false) })
	step("decision", func() { s.decision(false) })
	step("bytes", func() { s.bytes(3, 5) })
	step("bytes", func() { s.bytes(0, 7) })
	snap = s.snapshot(now)
	want = statsSnapshot{FormatVersion: "1", TS: isoTime(now), StartedAt: snap.StartedAt, PolicyHash: "sha256:y", OpenConnections: 1, ConnectionsTotal: 2, RequestsTotal: 3, DeniedTotal: 2, BytesUp: 3, BytesDown: 12, LastActivity: snap.LastActivity}
	if !reflect.DeepEqual(snap, want) {
		t.Fatalf("after decisions and bytes: %+v; want %+v", snap, want)
	}
	if last := svcParseISO(t, *snap.LastActivity); last.Before(before) || last.After(time.Now()) {
		t.Errorf("last_activity %s", *snap.LastActivity)
	}

	// One pending signal at most: the writer wakes once for many changes.
	for i := 0; i < 10; i++ {
		s.bytes(1, 0)
	}
	if !svcChanged(s) || svcChanged(s) {
		t.Error("want exactly one pending change signal")
	}

	// Each kind of activity moves last_activity.
	for _, c := range []struct {
		what   string
		change func()
	}{{"decision", func() { s.decision(true) }}, {"bytes", func() { s.bytes(1, 1) }}, {"waiting", func() { s.waiting(1) }}} {
		s.lastActivityMilli.Store(1)
		c.change()
		if got := s.lastActivityMilli.Load(); got < before.UnixMilli() {
			t.Errorf("%s left last_activity at %d", c.what, got)
		}
	}
}

func TestStatsSnapshotJSON(t *testing.T) {
	s := newLiveStats("sha256:abc")
	s.startedAt = time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.FixedZone("CET", 3600))
	now := time.Date(2024, 3, 1, 0, 0, 1, 5_000_000, time.UTC)
	if got, want := marshal(s.snapshot(now)), `{"format_version":"1","ts":"2024-03-01T00:00:01.005Z","started_at":"2024-02-29T22:59:59.999Z","policy_hash":"sha256:abc","open_connections":0,"connections_total":0,"requests_total":0,"denied_total":0,"bytes_up":0,"bytes_down":0,"last_activity":null}`; got != want {
		t.Errorf("fresh snapshot\n got %s\nwant %s", got, want)
	}
	s.opened()
	s.decision(false)
	s.bytes(1<<40, 2)
	s.lastActivityMilli.Store(time.Date(2024, 3, 1, 0, 0, 0, 42_000_000, time.UTC).UnixMilli())
	if got, want := marshal(s.snapshot(now)), `{"format_version":"1","ts":"2024-03-01T00:00:01.005Z","started_at":"2024-02-29T22:59:59.999Z","policy_hash":"sha256:abc","open_connections":1,"connections_total":1,"requests_total":1,"denied_total":1,"bytes_up":1099511627776,"bytes_down":2,"last_activity":"2024-03-01T00:00:00.042Z"}`; got != want {
		t.Errorf("snapshot\n got %s\nwant %s", got, want)
	}
}

func TestStatsFileCountsARequestWaitingForItsNameAsOpenAndActive(t *testing.T) {
	// A name that takes its time to resolve: the proxy waits, as it waits on a dropped SYN upstream.
	fail := make(chan error)
	resolve := func(ctx context.Context, name string) ([]string, error) {
		select {
		case err := <-fail:
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	_, statsPath, s := hStatsService(t, svcAllow("slow.test"), func(o *serviceOptions) {
		o.resolve = resolve
		o.connectTimeout = 3 * hWait
	})
	svcUntilStats(t, statsPath, func(statsSnapshot) bool { return true })

	answer := svcSend(t, s.port, "GET http://slow.test/ HTTP/1.1\r\nHost: slow.test\r\n\r\n")
	waiting := svcUntilStats(t, statsPath, func(st statsSnapshot) bool { return st.OpenConnections == 1 })
	if waiting.ConnectionsTotal != 0 || waiting.RequestsTotal != 0 || waiting.LastActivity == nil {
		t.Errorf("while waiting: %+v; want no connection or request yet, and activity", waiting)
	}
	fail <- fmt.Errorf("getaddrinfo ENOTFOUND slow.test")
	answer.readHead(t)
	if answer.status != 502 {
		t.Errorf("answer %q; want 502", answer.head)
	}
	done := svcUntilStats(t, statsPath, func(st statsSnapshot) bool { return st.OpenConnections == 0 && st.RequestsTotal == 1 })
	if done.ConnectionsTotal != 0 || done.DeniedTotal != 1 {
		t.Errorf("after the wait: %+v", done)
	}
	wantLine := `{"client":"` + svcClientOf(answer) + `","method":"GET","host":"slow.test","port":80,"decision":"deny","rule":"slow.test","reason":"could not resolve slow.test: getaddrinfo ENOTFOUND slow.test"}`
	if !s.log.has(t, wantLine) {
		t.Errorf("no line %s in\n%s", wantLine, strings.Join(s.log.all(), "\n"))
	}
}

func TestStatsFileCountsAnOpenTunnelItsBytesAndDecisions(t *testing.T) {
	upstream := hStartRecordingServer(t, []byte("pong"))
	target := fmt.Sprintf("127.0.0.1:%d", upstream.port)
	_, statsPath, s := hStatsService(t, svcAllow(target), func(o *serviceOptions) {
		o.dial = nil // TCP to the checked address
	})

	first := svcUntilStats(t, statsPath, func(statsSnapshot) bool { return true })
	if want := (statsSnapshot{FormatVersion: "1", TS: first.TS, StartedAt: first.StartedAt, PolicyHash: svcHashOf(target)}); !reflect.DeepEqual(first, want) {
		t.Errorf("first write %+v; want %+v", first, want)
	}

	hello := hellotest.Capture(t, "")
	tunnel := svcOpenTunnel(t, s, upstream.port, hello)
	if got := string(tunnel.readN(t, 4)); got != "pong" {
		t.Fatalf("through the tunnel: %q", got)
	}
	open := svcUntilStats(t, statsPath, func(st statsSnapshot) bool { return st.OpenConnections == 1 && st.BytesDown == 4 })
	if open.ConnectionsTotal != 1 || open.RequestsTotal != 1 || open.DeniedTotal != 0 || open.BytesUp != int64(len(hello)) || open.BytesDown != 4 || open.LastActivity == nil {
		t.Fatalf("with the tunnel open: %+v; want bytes_up %d", open, len(hello))
	}
	if svcParseISO(t, *open.LastActivity).Before(svcParseISO(t, first.StartedAt)) {
		t.Errorf("last_activity %s before started_at %s", *open.LastActivity, first.StartedAt)
	}

	if got := svcStatus(t, s.port, "127.0.0.1:9"); got != 403 {
		t.Errorf("CONNECT 127.0.0.1:9: %d; want 403", got)
	}
	tunnel.conn.Close()
	closed := svcUntilStats(t, statsPath, func(st statsSnapshot) bool { return st.OpenConnections == 0 && st.DeniedTotal == 1 })
	if closed.ConnectionsTotal != 1 || closed.RequestsTotal != 2 || closed.BytesUp != int64(len(hello)) || closed.BytesDown != 4 {
		t.Errorf("after the tunnel closed: %+v", closed)
	}
}

// The writer's timing, from the times it writes into the file (its own clock, so the reader's
// polling does not blur it): the first write at once; a change right after a write waits for the
// interval; nothing is written without a change; after a quiet spell a change is written at once.
func TestStatsWriteFileTiming(t *testing.T) {
	const interval = 800 * time.Millisecond
	path := filepath.Join(t.TempDir(), "stats.json")
	s := newLiveStats("sha256:x")
	log := &svcLog{}
	w := writeStatsFile(s, path, log.add, interval)
	defer w.close()

	first := svcUntilStats(t, path, func(statsSnapshot) bool { return true })
	s.bytes(1, 0)
	second := svcUntilStats(t, path, func(st statsSnapshot) bool { return st.BytesUp == 1 })
	gap := svcParseISO(t, second.TS).Sub(svcParseISO(t, first.TS))
	if gap < interval {
		t.Errorf("second write %v after the first; want at least %v", gap, interval)
	}
	// Within an interval of the change (made right after the first write), give or take scheduling.
	if gap > 2*interval {
		t.Errorf("second write %v after the first; want about %v", gap, interval)
	}

	// No change, no write (checked after two intervals: this can only pass wrongly).
	time.Sleep(2 * interval)
	if again := svcReadStats(t, path); again.TS != second.TS {
		t.Errorf("written again without a change: %s after %s", again.TS, second.TS)
	}

	changed := time.Now()
	s.bytes(1, 0)
	third := svcUntilStats(t, path, func(st statsSnapshot) bool { return st.BytesUp == 2 })
	if late := svcParseISO(t, third.TS).Sub(changed); late > interval/2 {
		t.Errorf("a change after a quiet spell written %v later; want at once", late)
	}
	hNothingLogged(t, log)
}

// Whatever moment the file is read, it is a whole one: written aside and renamed over.
func TestStatsWriteFileIsNeverSeenHalfWritten(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stats.json")
	s := newLiveStats("sha256:x")
	w := writeStatsFile(s, path, func(string) {}, time.Millisecond)
	var closeOnce sync.Once
	closeWriter := func() { closeOnce.Do(w.close) }
	defer closeWriter()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopChanges := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	defer stopChanges()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				s.bytes(1, 2)
			}
		}
	}()
	reads, distinct := 0, map[string]bool{}
	var lastUp, lastDown int64
	soon, latest := time.Now().Add(500*time.Millisecond), time.Now().Add(hWait)
	for time.Now().Before(soon) || len(distinct) < 20 {
		if time.Now().After(latest) {
			t.Fatalf("only %d writes seen", len(distinct))
		}
		text, err := os.ReadFile(path)
		if os.IsNotExist(err) && reads == 0 {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		reads++
		snap, err := svcParseStats(text)
		if err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
		// Each counter is read on its own (atomics, no lock on the data path), so one write may
		// hold bytes_up of a bytes() call whose bytes_down it misses; the call's nudge brings
		// the next write, and the last one (below) holds both. What a reader sees never goes back.
		if snap.BytesUp < lastUp || snap.BytesDown < lastDown {
			t.Fatalf("read %d: bytes %d/%d after %d/%d", reads, snap.BytesUp, snap.BytesDown, lastUp, lastDown)
		}
		lastUp, lastDown = snap.BytesUp, snap.BytesDown
		distinct[snap.TS+fmt.Sprint(snap.BytesUp)] = true
	}
	stopChanges()
	closeWriter()
	final := svcReadStats(t, path)
	if want := s.snapshot(time.Now()); final.BytesUp != want.BytesUp || final.BytesDown != want.BytesDown || final.BytesDown != 2*final.BytesUp {
		t.Errorf("last write %+v; want bytes %d/%d", final, want.BytesUp, want.BytesDown)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "stats.json" {
		t.Errorf("files left: %v", entries)
	}
}

// close() writes the last figures (without waiting for the interval) and stops writing.
func TestStatsWriteFileCloseWritesTheLastFigures(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stats.json")
	s := newLiveStats("sha256:x")
	log := &svcLog{}
	// An hour's interval: the first write comes at once or never.
	w := writeStatsFile(s, path, log.add, time.Hour)
	first := svcUntilStats(t, path, func(statsSnapshot) bool { return true })
	if first.BytesUp != 0 || first.LastActivity != nil {
		t.Errorf("first write %+v", first)
	}
	s.opened()
	s.decision(false)
	s.bytes(5, 7)
	s.policy("sha256:y")
	w.close()
	last := svcReadStats(t, path)
	if want := (statsSnapshot{FormatVersion: "1", TS: last.TS, StartedAt: first.StartedAt, PolicyHash: "sha256:y", OpenConnections: 1, ConnectionsTotal: 1, RequestsTotal: 1, DeniedTotal: 1, BytesUp: 5, BytesDown: 7, LastActivity: last.LastActivity}); !reflect.DeepEqual(last, want) || last.LastActivity == nil {
		t.Errorf("after close: %+v; want %+v", last, want)
	}
	s.bytes(1, 1)
	time.Sleep(50 * time.Millisecond) // only to give a wrong write the chance to happen
	if again := svcReadStats(t, path); !reflect.DeepEqual(again, last) {
		t.Errorf("written after close: %+v", again)
	}
	hNothingLogged(t, log)
}

// A path that cannot be written is logged once, and again only after it has worked in between;
// the writer goes on trying.
func TestStatsWriteFileFailingPathLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	path := filepath.Join(sub, "stats.json")
	s := newLiveStats("sha256:x")
	log := &svcLog{}
	const interval = 5 * time.Millisecond
	w := writeStatsFile(s, path, log.add, interval)
	closed := false
	defer func() {
		if !closed {
			w.close()
		}
	}()
	noDir := fmt.Sprintf(`{"event":"stats-error","path":%s,"error":"open %s.%d.tmp: no such file or directory"}`, svcJSON(path), path, os.Getpid())
	// os.Rename looks for a directory at the new name before renaming (EEXIST, "file exists"); one
	// made between that look and the rename itself fails the rename with EISDIR.
	isDir := func(reason string) string {
		return fmt.Sprintf(`{"event":"stats-error","path":%s,"error":"rename %s.%d.tmp %s: %s"}`, svcJSON(path), path, os.Getpid(), path, reason)
	}
	changes := func() {
		// Changes for 40 intervals: many more writes tried.
		for i := 0; i < 40; i++ {
			s.bytes(1, 0)
			time.Sleep(interval)
		}
	}

	// Its directory missing from the start: logged once, however many writes fail.
	hWaitFor(t, "a stats-error line", func() bool { return len(log.all()) == 1 })
	changes()
	svcExpectLines(t, "lines while failing", log.stripped(t), []string{noDir})

	// Working: written, nothing logged.
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	hWaitFor(t, "the stats file", func() bool {
		s.bytes(1, 0)
		info, err := os.Stat(path)
		return err == nil && info.Mode().IsRegular()
	})
	svcExpectLines(t, "lines once working", log.stripped(t), []string{noDir})

	// Failing again (a directory where the file goes; a write may land between the remove and
	// the mkdir, hence the loop): logged again, once.
	for {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(path, 0o755); err == nil {
			break
		} else if !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	hWaitFor(t, "a second stats-error line", func() bool {
		s.bytes(1, 0)
		return len(log.all()) == 2
	})
	changes()
	lines := log.stripped(t)
	second := isDir("file exists")
	if len(lines) == 2 && lines[1] == isDir("is a directory") {
		second = lines[1]
	}
	svcExpectLines(t, "lines failing again", lines, []string{noDir, second})

	// Working again, then closed: nothing more logged, the last figures written.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	hWaitFor(t, "the stats file again", func() bool {
		s.bytes(1, 0)
		info, err := os.Stat(path)
		return err == nil && info.Mode().IsRegular()
	})
	s.bytes(1, 0)
	w.close()
	closed = true
	svcExpectLines(t, "lines in all", log.stripped(t), []string{noDir, second})
	if got, want := svcReadStats(t, path).BytesUp, s.snapshot(time.Now()).BytesUp; got != want {
		t.Errorf("bytes_up %d after close; want %d", got, want)
	}
}
