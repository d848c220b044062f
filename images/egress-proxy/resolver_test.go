package main

// The proxy's DNS answer cache (reuses an answer for its time, never a failure, one query for
// lookups of one name at once), a port of 2a29766:test/unit/egress/resolver.test.ts; and connectFirst,
// which tries the checked addresses in order.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// svcFakeDNS answers 192.0.2.N for the Nth call and fails a name while told to.
type svcFakeDNS struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]bool
}

func (d *svcFakeDNS) resolve(ctx context.Context, name string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, name)
	if d.fail[name] {
		return nil, fmt.Errorf("getaddrinfo EAI_AGAIN %s", name)
	}
	return []string{fmt.Sprintf("192.0.2.%d", len(d.calls))}, nil
}

func (d *svcFakeDNS) called() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

func (d *svcFakeDNS) setFail(name string, fail bool) {
	d.mu.Lock()
	d.fail[name] = fail
	d.mu.Unlock()
}

func svcLookup(t *testing.T, resolve Resolver, name string, want ...string) {
	t.Helper()
	got, err := resolve(context.Background(), name)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("resolve(%s) = %q, %v; want %q", name, got, err, want)
	}
}

func TestResolverCachesAnswersForTheirTimeAndNeverAFailure(t *testing.T) {
	dns := &svcFakeDNS{fail: map[string]bool{"flaky.test": true}}
	resolve := cachingResolver(dns.resolve, time.Hour, 1024)
	svcLookup(t, resolve, "a.test", "192.0.2.1")
	svcLookup(t, resolve, "a.test", "192.0.2.1")
	if got := dns.called(); !reflect.DeepEqual(got, []string{"a.test"}) {
		t.Fatalf("calls %q", got)
	}
	if _, err := resolve(context.Background(), "flaky.test"); err == nil || err.Error() != "getaddrinfo EAI_AGAIN flaky.test" {
		t.Fatalf("flaky.test: %v; want the EAI_AGAIN error", err)
	}
	dns.setFail("flaky.test", false)
	svcLookup(t, resolve, "flaky.test", "192.0.2.3")
	svcLookup(t, resolve, "flaky.test", "192.0.2.3")
	svcLookup(t, resolve, "a.test", "192.0.2.1")
	if got, want := dns.called(), []string{"a.test", "flaky.test", "flaky.test"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %q; want %q", got, want)
	}
}

func TestResolverAsksAgainOnceTheTimeIsUp(t *testing.T) {
	// No clock to inject here (the TypeScript test moved one by 99 then 1 ms): a short time, and a
	// wait that is surely longer.
	const ttl = 30 * time.Millisecond
	dns := &svcFakeDNS{fail: map[string]bool{}}
	resolve := cachingResolver(dns.resolve, ttl, 1024)
	svcLookup(t, resolve, "a.test", "192.0.2.1")
	time.Sleep(2 * ttl)
	svcLookup(t, resolve, "a.test", "192.0.2.2")
	if got, want := dns.called(), []string{"a.test", "a.test"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %q; want %q", got, want)
	}
	// A time of zero keeps nothing.
	never := cachingResolver(dns.resolve, 0, 1024)
	svcLookup(t, never, "b.test", "192.0.2.3")
	svcLookup(t, never, "b.test", "192.0.2.4")
}

func TestResolverForgetsEverythingWhenFull(t *testing.T) {
	dns := &svcFakeDNS{fail: map[string]bool{}}
	resolve := cachingResolver(dns.resolve, time.Hour, 2)
	svcLookup(t, resolve, "a.test", "192.0.2.1")
	svcLookup(t, resolve, "b.test", "192.0.2.2")
	svcLookup(t, resolve, "a.test", "192.0.2.1")
	svcLookup(t, resolve, "c.test", "192.0.2.3") // full: a and b forgotten
	svcLookup(t, resolve, "c.test", "192.0.2.3")
	svcLookup(t, resolve, "a.test", "192.0.2.4")
	if got, want := dns.called(), []string{"a.test", "b.test", "c.test", "a.test"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %q; want %q", got, want)
	}
}

// svcWatchedContext tells when a lookup has started waiting on it: the resolver reads Done() only
// once it has looked the name up in its cache (and joined or started a query).
type svcWatchedContext struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func svcWatched(ctx context.Context) *svcWatchedContext {
	return &svcWatchedContext{Context: ctx, waiting: make(chan struct{})}
}

func (c *svcWatchedContext) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// svcBlockingDNS holds every query until released, then answers with what it is given.
type svcBlockingDNS struct {
	mu      sync.Mutex
	calls   int
	started chan struct{}
	release chan error
}

func (d *svcBlockingDNS) resolve(ctx context.Context, name string) ([]string, error) {
	d.mu.Lock()
	d.calls++
	n := d.calls
	d.mu.Unlock()
	d.started <- struct{}{}
	if err := <-d.release; err != nil {
		return nil, fmt.Errorf("call %d: %w", n, err)
	}
	return []string{fmt.Sprintf("192.0.2.%d", n)}, nil
}

func (d *svcBlockingDNS) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

func svcConcurrentLookups(t *testing.T, resolve Resolver, dns *svcBlockingDNS, n int, outcome error) ([][]string, []error) {
	t.Helper()
	answers := make([][]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	contexts := make([]*svcWatchedContext, n)
	for i := 0; i < n; i++ {
		contexts[i] = svcWatched(context.Background())
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			answers[i], errs[i] = resolve(contexts[i], "shared.test")
		}(i)
	}
	select {
	case <-dns.started:
	case <-time.After(hWait):
		t.Fatal("no query started")
	}
	for _, ctx := range contexts {
		select {
		case <-ctx.waiting:
		case <-time.After(hWait):
			t.Fatal("a lookup never started waiting")
		}
	}
	dns.release <- outcome
	wg.Wait()
	return answers, errs
}

func TestResolverLookupsOfOneNameAtOnceShareOneQuery(t *testing.T) {
	dns := &svcBlockingDNS{started: make(chan struct{}, 10), release: make(chan error, 10)}
	resolve := cachingResolver(dns.resolve, time.Hour, 1024)

	// A failure is shared by the lookups that waited on it...
	_, errs := svcConcurrentLookups(t, resolve, dns, 8, errors.New("getaddrinfo EAI_AGAIN shared.test"))
	for i, err := range errs {
		if err == nil || err.Error() != "call 1: getaddrinfo EAI_AGAIN shared.test" {
			t.Errorf("lookup %d: %v; want the first call's failure", i, err)
		}
	}
	if n := dns.count(); n != 1 {
		t.Fatalf("%d queries; want 1", n)
	}
	// ...and not kept: the next lookups ask again, once, and share the answer.
	answers, errs := svcConcurrentLookups(t, resolve, dns, 8, nil)
	for i := range answers {
		if errs[i] != nil || !reflect.DeepEqual(answers[i], []string{"192.0.2.2"}) {
			t.Errorf("lookup %d: %q, %v; want the second call's answer", i, answers[i], errs[i])
		}
	}
	if n := dns.count(); n != 2 {
		t.Fatalf("%d queries; want 2", n)
	}
}

func TestResolverALookupThatStopsWaitingLeavesTheQueryToOthers(t *testing.T) {
	dns := &svcBlockingDNS{started: make(chan struct{}, 10), release: make(chan error, 10)}
	resolve := cachingResolver(dns.resolve, time.Hour, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := resolve(ctx, "slow.test")
		gaveUp <- err
	}()
	<-dns.started
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled lookup: %v", err)
	}
	// The query goes on, not tied to that lookup; its answer is kept for the next one.
	dns.release <- nil
	svcLookup(t, resolve, "slow.test", "192.0.2.1")
	if n := dns.count(); n != 1 {
		t.Fatalf("%d queries; want 1", n)
	}
}

// svcScriptedDialer answers each address with the scripted result, recording the order.
type svcScriptedDialer struct {
	results map[string]error // nil: connected
	calls   []string
}

func (d *svcScriptedDialer) dial(address string, port int, timeout time.Duration) (net.Conn, error) {
	d.calls = append(d.calls, fmt.Sprintf("%s port %d within %v", address, port, timeout))
	if err := d.results[address]; err != nil {
		return nil, err
	}
	client, server := net.Pipe()
	server.Close()
	return client, nil
}

func svcTimedOut(address string, port int, ms int) error {
	return &timeoutError{fmt.Sprintf("connecting to %s port %d timed out after %d ms", address, port, ms)}
}

func TestConnectFirstTriesTheAddressesInOrder(t *testing.T) {
	d := &svcScriptedDialer{results: map[string]error{
		"2001:db8::1": errors.New("connect ENETUNREACH 2001:db8::1:443"),
		"192.0.2.1":   svcTimedOut("192.0.2.1", 443, 2000),
	}}
	conn, address, err := connectFirst(d.dial, []string{"2001:db8::1", "192.0.2.1", "192.0.2.2", "192.0.2.3"}, 443, 2*time.Second)
	if err != nil || conn == nil || address != "192.0.2.2" {
		t.Fatalf("connectFirst = %v, %q, %v; want a connection to 192.0.2.2", conn, address, err)
	}
	conn.Close()
	if want := []string{"2001:db8::1 port 443 within 2s", "192.0.2.1 port 443 within 2s", "192.0.2.2 port 443 within 2s"}; !reflect.DeepEqual(d.calls, want) {
		t.Errorf("dialed %q; want %q (and no further)", d.calls, want)
	}
}

func TestConnectFirstFailsWithEveryReasonAndTimesOutOnlyWhenEveryAttemptDid(t *testing.T) {
	for _, c := range []struct {
		name      string
		results   map[string]error
		addresses []string
		message   string
		timeout   bool
	}{
		{"all timed out", map[string]error{"192.0.2.1": svcTimedOut("192.0.2.1", 443, 10), "192.0.2.2": svcTimedOut("192.0.2.2", 443, 10)}, []string{"192.0.2.1", "192.0.2.2"},
			"connecting to 192.0.2.1 port 443 timed out after 10 ms; connecting to 192.0.2.2 port 443 timed out after 10 ms", true},
		{"one timed out", map[string]error{"192.0.2.1": svcTimedOut("192.0.2.1", 443, 10)}, []string{"192.0.2.1"},
			"connecting to 192.0.2.1 port 443 timed out after 10 ms", true},
		{"one refused", map[string]error{"192.0.2.1": svcTimedOut("192.0.2.1", 443, 10), "192.0.2.2": errors.New("connect ECONNREFUSED 192.0.2.2:443")}, []string{"192.0.2.1", "192.0.2.2"},
			"connecting to 192.0.2.1 port 443 timed out after 10 ms; connect ECONNREFUSED 192.0.2.2:443", false},
		{"refused first", map[string]error{"192.0.2.1": errors.New("connect ECONNREFUSED 192.0.2.1:443"), "192.0.2.2": svcTimedOut("192.0.2.2", 443, 10)}, []string{"192.0.2.1", "192.0.2.2"},
			"connect ECONNREFUSED 192.0.2.1:443; connecting to 192.0.2.2 port 443 timed out after 10 ms", false},
		{"no addresses", nil, nil, "no addresses to try", false},
	} {
		d := &svcScriptedDialer{results: c.results}
		conn, address, err := connectFirst(d.dial, c.addresses, 443, 10*time.Millisecond)
		if err == nil || conn != nil || address != "" {
			t.Errorf("%s: connectFirst = %v, %q, %v; want a failure", c.name, conn, address, err)
			continue
		}
		if err.Error() != c.message {
			t.Errorf("%s: %q; want %q", c.name, err.Error(), c.message)
		}
		if _, isTimeout := err.(*timeoutError); isTimeout != c.timeout {
			t.Errorf("%s: %T; timeout %v wanted", c.name, err, c.timeout)
		}
		if len(d.calls) != len(c.addresses) {
			t.Errorf("%s: dialed %q", c.name, d.calls)
		}
	}
}

// svcFullListener is a loopback listener that never accepts, with the smallest backlog: once its
// queue is full the kernel drops further SYNs, so a connection attempt times out.
func svcFullListener(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

func TestTCPDialerTimeoutMessage(t *testing.T) {
	port := svcFullListener(t)
	const timeout = 250 * time.Millisecond
	for i := 0; i < 16; i++ {
		conn, err := tcpDialer("127.0.0.1", port, timeout)
		if err == nil {
			// Queued, never accepted: it fills the backlog. Kept open until the test ends.
			t.Cleanup(func() { conn.Close() })
			continue
		}
		if _, ok := err.(*timeoutError); !ok {
			t.Fatalf("%T %v; want a *timeoutError", err, err)
		}
		if want := "connecting to 127.0.0.1 port " + strconv.Itoa(port) + " timed out after 250 ms"; err.Error() != want {
			t.Fatalf("%q; want %q", err.Error(), want)
		}
		return
	}
	t.Skip("this kernel never dropped a SYN to a full backlog: no timeout to see")
}

func TestTCPDialerRefusedIsNoTimeout(t *testing.T) {
	port := hClosedPort(t)
	_, err := tcpDialer("127.0.0.1", port, hWait)
	if err == nil {
		t.Skip("something took the port")
	}
	if _, ok := err.(*timeoutError); ok || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("%T %v; want the refusal as it is", err, err)
	}
	if want := "dial tcp 127.0.0.1:" + strconv.Itoa(port) + ": connect: connection refused"; err.Error() != want {
		t.Errorf("%q; want %q", err.Error(), want)
	}
}
