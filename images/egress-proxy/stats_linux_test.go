package main

// Every write of the stats file as inotify sees it: one rename onto the name per write, each a
// whole file, at most one per interval, and the last one within an interval of the last change
// (the port of the fs.watch test in 2a29766:test/unit/egress/stats-file.test.ts). Linux only: inotify is
// the one way the standard library can see each rename.

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// svcRenamesOnto watches dir and returns a function that reports how many times a file was
// renamed onto name since the last call, reading the file at each (so a rename is seen whole).
func svcRenamesOnto(t *testing.T, dir, name string) func() (int, []statsSnapshot) {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_MOVED_TO); err != nil {
		t.Fatalf("inotify watch: %v", err)
	}
	buf := make([]byte, 64*1024)
	return func() (int, []statsSnapshot) {
		t.Helper()
		count := 0
		var seen []statsSnapshot
		for {
			n, err := syscall.Read(fd, buf)
			if err == syscall.EAGAIN || err == syscall.EINTR {
				return count, seen
			}
			if err != nil {
				t.Fatalf("reading inotify: %v", err)
			}
			for offset := 0; offset+syscall.SizeofInotifyEvent <= n; {
				event := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[offset]))
				nameBytes := buf[offset+syscall.SizeofInotifyEvent : offset+syscall.SizeofInotifyEvent+int(event.Len)]
				offset += syscall.SizeofInotifyEvent + int(event.Len)
				if event.Mask&syscall.IN_Q_OVERFLOW != 0 {
					t.Fatal("inotify queue overflow")
				}
				if string(bytes.TrimRight(nameBytes, "\x00")) != name {
					continue
				}
				count++
				text, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				snap, err := svcParseStats(text)
				if err != nil {
					t.Fatal(err)
				}
				seen = append(seen, snap)
			}
		}
	}
}

func TestStatsWriteFileAtMostOncePerIntervalWithinAnIntervalOfTheLastChange(t *testing.T) {
	const interval = 200 * time.Millisecond
	dir := t.TempDir()
	path := filepath.Join(dir, "stats.json")
	renames := svcRenamesOnto(t, dir, "stats.json")
	s := newLiveStats("sha256:x")
	started := time.Now()
	w := writeStatsFile(s, path, func(line string) { t.Errorf("logged %s", line) }, interval)
	defer w.close()

	// Changes every few milliseconds for six intervals.
	var wg sync.WaitGroup
	var lastChange time.Time
	wg.Add(1)
	go func() {
		defer wg.Done()
		for time.Since(started) < 6*interval {
			s.bytes(1, 2)
			time.Sleep(3 * time.Millisecond)
		}
		s.bytes(1, 2)
		lastChange = time.Now()
	}()
	count := 0
	var seen []statsSnapshot
	collect := func() {
		n, snaps := renames()
		count += n
		seen = append(seen, snaps...)
	}
	for time.Since(started) < 6*interval {
		collect()
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	final := s.snapshot(time.Now())
	// What is written last holds every change.
	last := svcUntilStats(t, path, func(st statsSnapshot) bool { return st.BytesUp == final.BytesUp })
	collect()
	elapsed := time.Since(started)
	if last.BytesDown != 2*last.BytesUp {
		t.Errorf("last write %+v", last)
	}
	// Within an interval of the last change, give or take scheduling.
	if late := svcParseISO(t, last.TS).Sub(lastChange.Truncate(time.Millisecond)); late > interval+interval/2 {
		t.Errorf("the last change written %v after it; want within %v", late, interval)
	}

	// Each write's own time: never two within an interval.
	var times []time.Time
	distinct := map[string]bool{}
	for _, snap := range seen {
		if !distinct[snap.TS] {
			distinct[snap.TS] = true
			times = append(times, svcParseISO(t, snap.TS))
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < interval {
			t.Errorf("writes %v apart; want at least %v", gap, interval)
		}
	}
	// Every rename counted, however quickly read: no more than the interval allows in the time
	// taken; and with changes all along, a write about every interval (6 intervals: 7 or 8).
	if most := int(elapsed/interval) + 1; count > most || count < 3 {
		t.Errorf("%d writes in %v; want 3 to %d", count, elapsed, most)
	}
}
