package main

// The proxy as a service: policy read from a file, reloaded on request and on change, and denying
// everything while the file cannot be read. A port of 2a29766:test/unit/egress/service.test.ts, plus the
// service's life cycle end to end (start, SIGHUP, stop) and run() itself in a child process.
//
// Helpers here are prefixed `svc` (the proxy tests' harness lives in harness_test.go).

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sandboxshift.dev/egress/internal/hellotest"
)

// svcEmptyListHash is policyHash([]) as Node computes it (policy/file_test.go has the same value).
const svcEmptyListHash = "sha256:80c9860a313d2f681d209a3c71b680722f6bebda3bd661a7e715a9a43bdde82d"

// svcHashOf is the policy hash computed the way src/app/egress.ts does, independently of
// policy.Hash: sha256 of JSON.stringify({allow}). The entries used here are plain ASCII with
// nothing JSON.stringify and encoding/json write differently.
func svcHashOf(allow ...string) string {
	quoted := make([]string, len(allow))
	for i, entry := range allow {
		quoted[i] = strconv.Quote(entry)
	}
	sum := sha256.Sum256([]byte(`{"allow":[` + strings.Join(quoted, ",") + `]}`))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// svcJSON is a JSON value as it appears in a log line.
func svcJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// svcLog records the lines a service logs.
type svcLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *svcLog) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

func (l *svcLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

var svcTSPrefix = regexp.MustCompile(`^\{"ts":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)",`)

// svcStripTS checks that a line starts with an ISO timestamp with milliseconds and Z, and returns
// the rest of the line: every other field, in order, as `{"event":...}`.
func svcStripTS(t *testing.T, line string) string {
	t.Helper()
	m := svcTSPrefix.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("line does not start with an ISO ts: %s", line)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", m[1]); err != nil {
		t.Fatalf("ts %q of %s: %v", m[1], line, err)
	}
	return "{" + line[len(m[0]):]
}

// stripped is every line without its ts.
func (l *svcLog) stripped(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, line := range l.all() {
		out = append(out, svcStripTS(t, line))
	}
	return out
}

// withPrefix is every line (without ts) that starts with prefix, e.g. `{"event":"policy",`.
func (l *svcLog) withPrefix(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for _, line := range l.stripped(t) {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out
}

func (l *svcLog) has(t *testing.T, want string) bool {
	t.Helper()
	for _, line := range l.stripped(t) {
		if line == want {
			return true
		}
	}
	return false
}

func svcExpectLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// svcPolicyFile writes content to policy.json in a fresh directory, aside and renamed over, the
// way SandboxShift writes it; replace does the same with new content.
type svcPolicyFile struct {
	t    *testing.T
	dir  string
	path string
}

func svcNewPolicyFile(t *testing.T, content string) *svcPolicyFile {
	t.Helper()
	dir := t.TempDir()
	f := &svcPolicyFile{t: t, dir: dir, path: filepath.Join(dir, "policy.json")}
	f.replace(content)
	return f
}

func (f *svcPolicyFile) replace(content string) {
	f.t.Helper()
	if err := os.WriteFile(f.path+".tmp", []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(f.path+".tmp", f.path); err != nil {
		f.t.Fatal(err)
	}
}

func svcAllow(entries ...string) string {
	if entries == nil {
		entries = []string{}
	}
	return svcJSON(map[string][]string{"allow": entries})
}

// svcNoDNS is the resolver of these tests: no name resolves.
func svcNoDNS(ctx context.Context, name string) ([]string, error) {
	return nil, errors.New("no DNS in this test")
}

// svcRunning is a started service, stopped at the end of the test unless stopped before.
type svcRunning struct {
	*service
	log  *svcLog
	once sync.Once
}

func (r *svcRunning) stopNow() { r.once.Do(r.stop) }

// svcStart starts a service on 127.0.0.1 (port 0) on the policy file at path. The policy file is
// polled once an hour unless options says otherwise, so only reloadPolicy reloads it.
func svcStart(t *testing.T, path string, options func(*serviceOptions)) *svcRunning {
	t.Helper()
	log := &svcLog{}
	o := serviceOptions{policyPath: path, host: "127.0.0.1", port: 0, log: log.add, watchInterval: time.Hour, resolve: svcNoDNS, connectTimeout: 5 * time.Second, helloTimeout: 5 * time.Second}
	if options != nil {
		options(&o)
	}
	s, err := startService(o)
	if err != nil {
		t.Fatalf("startService: %v", err)
	}
	r := &svcRunning{service: s, log: log}
	t.Cleanup(r.stopNow)
	return r
}

// svcExchange is one raw client connection to the proxy, its response head read.
type svcExchange struct {
	conn   net.Conn
	r      *bufio.Reader
	status int
	head   string
}

// svcSend connects to the proxy and sends request; readHead reads the answer's head.
func svcSend(t *testing.T, port int, request string) *svcExchange {
	t.Helper()
	conn := hDialProxy(t, port)
	_ = conn.SetDeadline(time.Now().Add(2 * hWait))
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatalf("sending %q: %v", request, err)
	}
	return &svcExchange{conn: conn, r: bufio.NewReader(conn)}
}

var svcStatusLine = regexp.MustCompile(`^HTTP/1\.1 (\d{3}) `)

func (x *svcExchange) readHead(t *testing.T) {
	t.Helper()
	var head []string
	for {
		line, err := x.r.ReadString('\n')
		if err != nil {
			t.Fatalf("proxy closed without a response (%v) after %q", err, strings.Join(head, ""))
		}
		if line == "\r\n" {
			break
		}
		head = append(head, line)
	}
	x.head = strings.Join(head, "")
	m := svcStatusLine.FindStringSubmatch(x.head)
	if m == nil {
		t.Fatalf("not a response head: %q", x.head)
	}
	x.status, _ = strconv.Atoi(m[1])
}

// svcRequest sends request and reads the answer's head.
func svcRequest(t *testing.T, port int, request string) *svcExchange {
	t.Helper()
	x := svcSend(t, port, request)
	x.readHead(t)
	return x
}

// svcStatus is the status the proxy answers a CONNECT to target with.
func svcStatus(t *testing.T, port int, target string) int {
	t.Helper()
	x := svcRequest(t, port, hConnectRequest(target))
	x.conn.Close()
	return x.status
}

// readN reads exactly n bytes after the head.
func (x *svcExchange) readN(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(x.r, b); err != nil {
		t.Fatalf("reading %d bytes through the tunnel: %v", n, err)
	}
	return b
}

// waitClosed reads until the proxy ends the connection (EOF or reset), not until the deadline.
func (x *svcExchange) waitClosed(t *testing.T) {
	t.Helper()
	_, err := io.Copy(io.Discard, x.r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the proxy did not close the connection: %v", err)
	}
}

// svcOpenTunnel opens a tunnel through the service to 127.0.0.1:port and sends a ClientHello: a
// tunnel opens (and counts) once its ClientHello has passed; an address target sends no name.
func svcOpenTunnel(t *testing.T, s *svcRunning, port int, hello []byte) *svcExchange {
	t.Helper()
	tunnel := svcRequest(t, s.port, hConnectRequest(fmt.Sprintf("127.0.0.1:%d", port)))
	if tunnel.status != 200 {
		t.Fatalf("CONNECT answered %q; want 200", tunnel.head)
	}
	if _, err := tunnel.conn.Write(hello); err != nil {
		t.Fatal(err)
	}
	return tunnel
}

func svcClientOf(x *svcExchange) string {
	return x.conn.LocalAddr().String()
}

// svcRefusingDialer records where the proxy connects and refuses every connection, so an allowed
// request answers 502 whatever listens on the machine.
type svcRefusingDialer struct {
	mu    sync.Mutex
	calls []string
}

func (d *svcRefusingDialer) dial(address string, port int, timeout time.Duration) (net.Conn, error) {
	d.mu.Lock()
	d.calls = append(d.calls, fmt.Sprintf("%s port %d", address, port))
	d.mu.Unlock()
	return nil, fmt.Errorf("connect ECONNREFUSED %s:%d", address, port)
}

func (d *svcRefusingDialer) called() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

func TestSvcHashOfMatchesNode(t *testing.T) {
	// The values computed with Node in policy/file_test.go.
	if got := svcHashOf(); got != svcEmptyListHash {
		t.Errorf("svcHashOf() = %s", got)
	}
	if got, want := svcHashOf("127.0.0.1:9", "pypi.org", "https://bad.test/"), "sha256:fd4f1227c5287cfa77505829e68053fe95497b09290928eb51c26b48d332e100"; got != want {
		t.Errorf("svcHashOf(...) = %s; want %s", got, want)
	}
}

func TestSvcStartLoadsThePolicyFileAndReportsEntriesItCannotUse(t *testing.T) {
	file := svcNewPolicyFile(t, svcAllow("pypi.org", "https://bad.test/"))
	s := svcStart(t, file.path, nil)
	svcExpectLines(t, "lines at start", s.log.stripped(t), []string{
		`{"event":"policy","trigger":"start","path":` + svcJSON(file.path) + `,"hash":"` + svcHashOf("pypi.org", "https://bad.test/") + `","rules":["pypi.org"],"problems":[{"entry":"https://bad.test/","message":"not a valid CIDR range"}]}`,
		`{"event":"listening","host":"127.0.0.1","port":` + strconv.Itoa(s.port) + `}`,
	})
	if s.port == 0 {
		t.Fatal("port 0 reported: want the port actually bound")
	}
	if got := s.stats.snapshot(time.Now()).PolicyHash; got != svcHashOf("pypi.org", "https://bad.test/") {
		t.Errorf("stats policy hash = %s", got)
	}
	s.stopNow()
	svcExpectLines(t, "lines after stop", s.log.stripped(t)[2:], []string{`{"event":"stopped"}`})
}

func TestSvcStartRefusesAFileThatIsNotAPolicy(t *testing.T) {
	dir := t.TempDir()
	for i, c := range []struct{ content, message string }{
		{"{not json", "cannot read policy file PATH: invalid character 'n' looking for beginning of object key string"},
		{`{"allow": "pypi.org"}`, `policy file PATH must hold {"allow": [strings]}`},
		{`{"allow": [1]}`, `policy file PATH must hold {"allow": [strings]}`},
		{`[]`, `policy file PATH must hold {"allow": [strings]}`},
		{"", "cannot read policy file PATH: unexpected end of JSON input"},
		// No file at all.
		{"\x00missing", "cannot read policy file PATH: open PATH: no such file or directory"},
	} {
		path := filepath.Join(dir, fmt.Sprintf("policy-%d.json", i))
		if c.content != "\x00missing" {
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		log := &svcLog{}
		s, err := startService(serviceOptions{policyPath: path, host: "127.0.0.1", port: 0, log: log.add})
		if err == nil {
			s.stop()
			t.Fatalf("%q: startService succeeded", c.content)
		}
		var startError *policyStartError
		if !errors.As(err, &startError) {
			t.Errorf("%q: error %T %v; want a *policyStartError", c.content, err, err)
		}
		if want := strings.ReplaceAll(c.message, "PATH", path); err.Error() != want {
			t.Errorf("%q: error %q; want %q", c.content, err.Error(), want)
		}
		if lines := log.all(); len(lines) != 0 {
			t.Errorf("%q: logged %q; want nothing", c.content, lines)
		}
	}
}

func TestSvcStartFailsToListenOnAPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	file := svcNewPolicyFile(t, svcAllow("pypi.org"))
	log := &svcLog{}
	s, err := startService(serviceOptions{policyPath: file.path, host: "127.0.0.1", port: taken.Addr().(*net.TCPAddr).Port, log: log.add})
	if err == nil {
		s.stop()
		t.Fatal("startService succeeded on a port in use")
	}
	var startError *policyStartError
	if errors.As(err, &startError) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %T %v; want the listen error (EADDRINUSE), not a policy error", err, err)
	}
	// As the TypeScript service did: the policy was read (and logged) before listening failed.
	svcExpectLines(t, "lines", log.withPrefix(t, `{"event":`), []string{
		`{"event":"policy","trigger":"start","path":` + svcJSON(file.path) + `,"hash":"` + svcHashOf("pypi.org") + `","rules":["pypi.org"],"problems":[]}`,
	})
}

func TestSvcReloadsWhenTheFileChanges(t *testing.T) {
	// An address target needs no DNS, so the answer shows the policy alone: 403 when refused,
	// 502 (the dialer refuses) once allowed.
	file, dialer, s := hWatchedService(t, svcAllow(), 403)
	file.replace(svcAllow("127.0.0.1:9"))
	hWaitFor(t, "the new policy", func() bool { return svcStatus(t, s.port, "127.0.0.1:9") != 403 })
	if got := svcStatus(t, s.port, "127.0.0.1:9"); got != 502 {
		t.Errorf("after the change: %d; want 502", got)
	}
	if got := dialer.called(); len(got) == 0 || got[0] != "127.0.0.1 port 9" {
		t.Errorf("dialed %q; want 127.0.0.1 port 9", got)
	}
	want := []string{
		`{"event":"policy","trigger":"start","path":` + svcJSON(file.path) + `,"hash":"` + svcEmptyListHash + `","rules":[],"problems":[]}`,
		`{"event":"policy","trigger":"file-change","path":` + svcJSON(file.path) + `,"hash":"` + svcHashOf("127.0.0.1:9") + `","kept":0,"closed":0,"rules":["127.0.0.1:9"],"problems":[]}`,
	}
	svcExpectLines(t, "policy lines", s.log.withPrefix(t, `{"event":"policy"`), want)
	// An unchanged file is not reloaded again (checked after many polls: this can only pass wrongly).
	time.Sleep(20 * 10 * time.Millisecond)
	svcExpectLines(t, "policy lines after more polls", s.log.withPrefix(t, `{"event":"policy"`), want)
	if got := s.stats.snapshot(time.Now()).PolicyHash; got != svcHashOf("127.0.0.1:9") {
		t.Errorf("stats policy hash = %s", got)
	}

	// No reload once stopped.
	s.stopNow()
	file.replace(svcAllow("pypi.org"))
	time.Sleep(20 * 10 * time.Millisecond)
	svcExpectLines(t, "policy lines after stop", s.log.withPrefix(t, `{"event":"policy"`), want)
}

func TestSvcFileRemovedOrUnreadableDeniesEverythingUntilItIsBack(t *testing.T) {
	file, _, s := hWatchedService(t, svcAllow("127.0.0.1:9"), 502)
	path := svcJSON(file.path)

	// Removed: everything is denied.
	if err := os.Remove(file.path); err != nil {
		t.Fatal(err)
	}
	removed := `{"event":"policy-error","trigger":"file-change","error":"cannot read policy file ` + file.path + `: open ` + file.path + `: no such file or directory","now":"denying everything","hash":"` + svcEmptyListHash + `","kept":0,"closed":0}`
	hWaitFor(t, "the policy-error line for a removed file", func() bool { return s.log.has(t, removed) })
	if got := svcStatus(t, s.port, "127.0.0.1:9"); got != 403 {
		t.Errorf("with the file removed: %d; want 403", got)
	}
	if got := s.stats.snapshot(time.Now()).PolicyHash; got != svcEmptyListHash {
		t.Errorf("stats policy hash = %s; want the empty list's", got)
	}

	// Unreadable (a directory where the file was; chmod would not stop root): still denied.
	if err := os.Mkdir(file.path, 0o755); err != nil {
		t.Fatal(err)
	}
	unreadable := `{"event":"policy-error","trigger":"file-change","error":"cannot read policy file ` + file.path + `: read ` + file.path + `: is a directory","now":"denying everything","hash":"` + svcEmptyListHash + `","kept":0,"closed":0}`
	hWaitFor(t, "the policy-error line for an unreadable file", func() bool { return s.log.has(t, unreadable) })
	if got := svcStatus(t, s.port, "127.0.0.1:9"); got != 403 {
		t.Errorf("with the file unreadable: %d; want 403", got)
	}
	svcExpectLines(t, "lines so far", s.log.withPrefix(t, `{"event":"policy`), []string{
		`{"event":"policy","trigger":"start","path":` + path + `,"hash":"` + svcHashOf("127.0.0.1:9") + `","rules":["127.0.0.1:9"],"problems":[]}`,
		removed,
		unreadable,
	})

	// Back: allowed again. (The watcher may see the path missing in between: another policy-error.)
	if err := os.Remove(file.path); err != nil {
		t.Fatal(err)
	}
	file.replace(svcAllow("127.0.0.1:9"))
	back := `{"event":"policy","trigger":"file-change","path":` + path + `,"hash":"` + svcHashOf("127.0.0.1:9") + `","kept":0,"closed":0,"rules":["127.0.0.1:9"],"problems":[]}`
	hWaitFor(t, "the policy line once the file is back", func() bool { return s.log.has(t, back) })
	if got := svcStatus(t, s.port, "127.0.0.1:9"); got != 502 {
		t.Errorf("with the file back: %d; want 502", got)
	}
	if got := s.stats.snapshot(time.Now()).PolicyHash; got != svcHashOf("127.0.0.1:9") {
		t.Errorf("stats policy hash = %s", got)
	}
}

func TestSvcReloadsOnRequestAndDeniesEverythingWhileTheFileIsBroken(t *testing.T) {
	file := svcNewPolicyFile(t, svcAllow("127.0.0.1:9"))
	dialer := &svcRefusingDialer{}
	s := svcStart(t, file.path, func(o *serviceOptions) { o.dial = dialer.dial })
	if got := svcStatus(t, s.port, "127.0.0.1:9"); got != 502 {
		t.Fatalf("at start: %d; want 502", got)
	}

	file.replace(`{"allow": [`)
	s.reloadPolicy("SIGHUP")
	if got := svcStatus(t, s.port, "127.0.0.1:9"); got != 403 {
		t.Errorf("with the file broken: %d; want 403", got)
	}
	broken := `{"event":"policy-error","trigger":"SIGHUP","error":"cannot read policy file ` + file.path + `: unexpected end of JSON input","now":"denying everything","hash":"` + svcEmptyListHash + `","kept":0,"closed":0}`
	if !s.log.has(t, broken) {
		t.Errorf("no line %s in\n%s", broken, strings.Join(s.log.all(), "\n"))
	}

	file.replace(svcAllow("127.0.0.1:9"))
	s.reloadPolicy("SIGHUP")
	if got := svcStatus(t, s.port, "127.0.0.1:9"); got != 502 {
		t.Errorf("with the file fixed: %d; want 502", got)
	}
	path := svcJSON(file.path)
	svcExpectLines(t, "policy lines", s.log.withPrefix(t, `{"event":"policy`), []string{
		`{"event":"policy","trigger":"start","path":` + path + `,"hash":"` + svcHashOf("127.0.0.1:9") + `","rules":["127.0.0.1:9"],"problems":[]}`,
		broken,
		`{"event":"policy","trigger":"SIGHUP","path":` + path + `,"hash":"` + svcHashOf("127.0.0.1:9") + `","kept":0,"closed":0,"rules":["127.0.0.1:9"],"problems":[]}`,
	})
}

func TestSvcStopStopsListeningAndDropsOpenTunnels(t *testing.T) {
	upstream := hStartRecordingServer(t, nil)
	file := svcNewPolicyFile(t, svcAllow(fmt.Sprintf("127.0.0.1:%d", upstream.port)))
	s := svcStart(t, file.path, nil)
	hello := hellotest.Capture(t, "")
	tunnel := svcOpenTunnel(t, s, upstream.port, hello)
	hWaitFor(t, "the tunnel to open", func() bool { return s.proxy.conns.size() == 1 })
	hWaitFor(t, "the ClientHello upstream", func() bool { return len(upstream.received()) == len(hello) })

	s.stopNow()
	tunnel.waitClosed(t)
	hWaitFor(t, "the upstream side to close", func() bool { return upstream.open() == 0 })
	if n := s.proxy.conns.size(); n != 0 {
		t.Errorf("%d connections still open", n)
	}
	if got := s.stats.snapshot(time.Now()); got.OpenConnections != 0 || got.ConnectionsTotal != 1 {
		t.Errorf("stats after stop: open %d, total %d; want 0, 1", got.OpenConnections, got.ConnectionsTotal)
	}
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), hWait); err == nil {
		conn.Close()
		t.Error("the proxy still accepts connections after stop")
	}
	lines := s.log.stripped(t)
	if last := lines[len(lines)-1]; last != `{"event":"stopped"}` {
		t.Errorf("last line %s; want the stopped event", last)
	}
}

func TestSvcReloadLogsThePolicyHashAndHowManyConnectionsItKeptAndClosed(t *testing.T) {
	upstream := hStartRecordingServer(t, nil)
	target := fmt.Sprintf("127.0.0.1:%d", upstream.port)
	allow := []string{target, "pypi.org", "https://bad.test/"}
	file := svcNewPolicyFile(t, svcAllow(allow...))
	s := svcStart(t, file.path, nil)
	hello := hellotest.Capture(t, "")
	tunnel := svcOpenTunnel(t, s, upstream.port, hello)
	hWaitFor(t, "the tunnel to open", func() bool { return s.proxy.conns.size() == 1 })

	next := []string{target, "*.github.com"}
	file.replace(svcAllow(next...))
	s.reloadPolicy("SIGHUP")
	path := svcJSON(file.path)
	svcExpectLines(t, "policy lines", s.log.withPrefix(t, `{"event":"policy`), []string{
		`{"event":"policy","trigger":"start","path":` + path + `,"hash":"` + svcHashOf(allow...) + `","rules":["` + target + `","pypi.org"],"problems":[{"entry":"https://bad.test/","message":"not a valid CIDR range"}]}`,
		`{"event":"policy","trigger":"SIGHUP","path":` + path + `,"hash":"` + svcHashOf(next...) + `","kept":1,"closed":0,"rules":["` + target + `","*.github.com"],"problems":[]}`,
	})
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(svcHashOf(next...)) {
		t.Errorf("hash %s", svcHashOf(next...))
	}
	if got := s.stats.snapshot(time.Now()).PolicyHash; got != svcHashOf(next...) {
		t.Errorf("stats policy hash = %s", got)
	}
	// The kept tunnel goes on untouched.
	if _, err := tunnel.conn.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	hWaitFor(t, "bytes through the kept tunnel", func() bool { return string(upstream.received()) == string(hello)+"more" })
	if n := s.proxy.conns.size(); n != 1 {
		t.Errorf("%d connections open; want 1", n)
	}
}

func TestSvcClosesEveryOpenConnectionWhenTheFileBecomesUnreadable(t *testing.T) {
	upstream := hStartRecordingServer(t, nil)
	target := fmt.Sprintf("127.0.0.1:%d", upstream.port)
	file := svcNewPolicyFile(t, svcAllow(target))
	s := svcStart(t, file.path, nil)
	tunnel := svcOpenTunnel(t, s, upstream.port, hellotest.Capture(t, ""))
	hWaitFor(t, "the tunnel to open", func() bool { return s.proxy.conns.size() == 1 })

	file.replace(`{"allow": [`)
	s.reloadPolicy("SIGHUP")
	tunnel.waitClosed(t)
	hWaitFor(t, "the upstream side to close", func() bool { return upstream.open() == 0 })
	if got := svcStatus(t, s.port, target); got != 403 {
		t.Errorf("a new tunnel: %d; want 403", got)
	}
	closedLine := `{"client":"` + svcClientOf(tunnel) + `","method":"CONNECT","host":"127.0.0.1","port":` + strconv.Itoa(upstream.port) + `,"decision":"deny","rule":"` + target + `","reason":"closed on policy reload: no address rule covers 127.0.0.1"}`
	errorLine := `{"event":"policy-error","trigger":"SIGHUP","error":"cannot read policy file ` + file.path + `: unexpected end of JSON input","now":"denying everything","hash":"` + svcEmptyListHash + `","kept":0,"closed":1}`
	lines := s.log.stripped(t)
	closedAt, errorAt := -1, -1
	for i, line := range lines {
		switch line {
		case closedLine:
			closedAt = i
		case errorLine:
			errorAt = i
		}
	}
	// The tunnel's deny decision is logged by the reload, before the policy-error line.
	if closedAt < 0 || errorAt < 0 || closedAt > errorAt {
		t.Errorf("want\n%s\nthen\n%s\nin\n%s", closedLine, errorLine, strings.Join(lines, "\n"))
	}
	if got := s.stats.snapshot(time.Now()); got.PolicyHash != svcEmptyListHash || got.OpenConnections != 0 || got.ConnectionsTotal != 1 || got.DeniedTotal != 2 || got.RequestsTotal != 3 {
		t.Errorf("stats %+v; want the empty list's hash, 0 open, 1 connection, 2 denied of 3 requests", got)
	}
}

// The service's life as main runs it: start with a stats file, SIGHUP, stop.
func TestSvcLifecycleStartReloadStop(t *testing.T) {
	upstream := hStartRecordingServer(t, []byte("pong"))
	target := fmt.Sprintf("127.0.0.1:%d", upstream.port)
	file, statsPath, s := hStatsService(t, svcAllow(target), func(o *serviceOptions) {
		o.watchInterval = 10 * time.Millisecond
	})
	first := svcUntilStats(t, statsPath, func(statsSnapshot) bool { return true })
	if first.PolicyHash != svcHashOf(target) {
		t.Errorf("stats hash %s", first.PolicyHash)
	}

	hello := hellotest.Capture(t, "")
	tunnel := svcOpenTunnel(t, s, upstream.port, hello)
	if got := string(tunnel.readN(t, 4)); got != "pong" {
		t.Fatalf("through the tunnel: %q", got)
	}
	svcUntilStats(t, statsPath, func(st statsSnapshot) bool { return st.OpenConnections == 1 && st.BytesDown == 4 })

	// SIGHUP on an unchanged file: a reload that keeps the tunnel.
	s.reloadPolicy("SIGHUP")
	// A new list that no longer allows it: the watcher closes the tunnel, then a SIGHUP finds
	// nothing more to close.
	file.replace(svcAllow("pypi.org"))
	tunnel.waitClosed(t)
	s.reloadPolicy("SIGHUP")
	after := svcUntilStats(t, statsPath, func(st statsSnapshot) bool {
		return st.OpenConnections == 0 && st.PolicyHash == svcHashOf("pypi.org")
	})
	if after.ConnectionsTotal != 1 || after.RequestsTotal != 2 || after.DeniedTotal != 1 || after.BytesUp != int64(len(hello)) || after.BytesDown != 4 {
		t.Errorf("stats after the reload: %+v", after)
	}

	s.stopNow()
	path := svcJSON(file.path)
	lines := s.log.withPrefix(t, `{"event":`)
	want := []string{
		`{"event":"policy","trigger":"start","path":` + path + `,"hash":"` + svcHashOf(target) + `","rules":["` + target + `"],"problems":[]}`,
		`{"event":"listening","host":"127.0.0.1","port":` + strconv.Itoa(s.port) + `}`,
		`{"event":"policy","trigger":"SIGHUP","path":` + path + `,"hash":"` + svcHashOf(target) + `","kept":1,"closed":0,"rules":["` + target + `"],"problems":[]}`,
	}
	if !reflect.DeepEqual(lines[:3], want) {
		t.Errorf("first lines:\n%s\nwant\n%s", strings.Join(lines[:3], "\n"), strings.Join(want, "\n"))
	}
	// Then the watcher's reload that closed the tunnel (the test waited for it to close before
	// sending the second SIGHUP), that SIGHUP with nothing left to close, and the stop.
	svcExpectLines(t, "last lines", lines[3:], []string{
		`{"event":"policy","trigger":"file-change","path":` + path + `,"hash":"` + svcHashOf("pypi.org") + `","kept":0,"closed":1,"rules":["pypi.org"],"problems":[]}`,
		`{"event":"policy","trigger":"SIGHUP","path":` + path + `,"hash":"` + svcHashOf("pypi.org") + `","kept":0,"closed":0,"rules":["pypi.org"],"problems":[]}`,
		`{"event":"stopped"}`,
	})
	// The stats file holds the last figures, and no temp file is left.
	final := svcReadStats(t, statsPath)
	if final.OpenConnections != 0 || final.PolicyHash != svcHashOf("pypi.org") || final.ConnectionsTotal != 1 {
		t.Errorf("stats file after stop: %+v", final)
	}
	entries, err := os.ReadDir(file.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"policy.json", "stats.json"}) {
		t.Errorf("files left: %q", names)
	}
}

// run() itself, in a child process (this test binary again): it blocks on signals, and its
// backstop timer would end the test binary.
func TestSvcMainHelperProcess(t *testing.T) {
	if os.Getenv("SVC_EGRESS_MAIN_HELPER") != "1" {
		t.Skip("only runs as the child process of TestSvcMain*")
	}
	os.Exit(run())
}

// svcMainProcess starts run() in a child process with env (and no other SANDBOXSHIFT_ variables);
// its stdout lines arrive on the returned channel, which is closed when stdout ends.
func svcMainProcess(t *testing.T, env ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSvcMainHelperProcess$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SANDBOXSHIFT_") && !strings.HasPrefix(kv, "SVC_EGRESS_MAIN_HELPER=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "SVC_EGRESS_MAIN_HELPER=1")
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
	}()
	return cmd, lines
}

func svcNextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatal("the process ended its output")
		}
		return svcStripTS(t, line)
	case <-time.After(hWait):
		t.Fatal("timed out waiting for a line from the process")
	}
	return ""
}

func svcExitCode(t *testing.T, cmd *exec.Cmd, lines <-chan string) int {
	t.Helper()
	for range lines {
		t.Error("unexpected line after the last one")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(hWait):
		t.Fatal("the process did not exit")
	}
	return -1
}

func TestSvcMainFatalStartErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.json")
	for _, c := range []struct {
		env  []string
		line string
	}{
		{nil, `{"event":"fatal","error":"SANDBOXSHIFT_EGRESS_POLICY is not set"}`},
		{[]string{"SANDBOXSHIFT_EGRESS_POLICY=" + missing, "SANDBOXSHIFT_EGRESS_PORT=0"}, `{"event":"fatal","error":"SANDBOXSHIFT_EGRESS_PORT is not a port: 0"}`},
		{[]string{"SANDBOXSHIFT_EGRESS_POLICY=" + missing, "SANDBOXSHIFT_EGRESS_PORT=http"}, `{"event":"fatal","error":"SANDBOXSHIFT_EGRESS_PORT is not a port: http"}`},
		{[]string{"SANDBOXSHIFT_EGRESS_POLICY=" + missing, "SANDBOXSHIFT_EGRESS_HOST=127.0.0.1", "SANDBOXSHIFT_EGRESS_PORT=1"}, `{"event":"fatal","error":"cannot read policy file ` + missing + `: open ` + missing + `: no such file or directory"}`},
	} {
		cmd, lines := svcMainProcess(t, c.env...)
		if got := svcNextLine(t, lines); got != c.line {
			t.Errorf("%q: %s; want %s", c.env, got, c.line)
		}
		if code := svcExitCode(t, cmd, lines); code != 1 {
			t.Errorf("%q: exit code %d; want 1", c.env, code)
		}
	}
}

func TestSvcMainReloadsOnSIGHUPAndStopsOnSIGTERM(t *testing.T) {
	file := svcNewPolicyFile(t, svcAllow("pypi.org"))
	statsPath := filepath.Join(file.dir, "stats.json")
	port := hClosedPort(t)
	cmd, lines := svcMainProcess(t, "SANDBOXSHIFT_EGRESS_POLICY="+file.path, "SANDBOXSHIFT_EGRESS_HOST=127.0.0.1", "SANDBOXSHIFT_EGRESS_PORT="+strconv.Itoa(port), "SANDBOXSHIFT_EGRESS_STATS="+statsPath)
	path := svcJSON(file.path)
	for _, want := range []string{
		`{"event":"policy","trigger":"start","path":` + path + `,"hash":"` + svcHashOf("pypi.org") + `","rules":["pypi.org"],"problems":[]}`,
		`{"event":"listening","host":"127.0.0.1","port":` + strconv.Itoa(port) + `}`,
	} {
		if got := svcNextLine(t, lines); got != want {
			t.Fatalf("line %s; want %s", got, want)
		}
	}
	if got := svcStatus(t, port, "127.0.0.1:9"); got != 403 {
		t.Errorf("CONNECT 127.0.0.1:9: %d; want 403", got)
	}
	decision := svcNextLine(t, lines)
	if !strings.HasPrefix(decision, `{"client":`) || !strings.HasSuffix(decision, `,"method":"CONNECT","host":"127.0.0.1","port":9,"decision":"deny","reason":"no address rule covers 127.0.0.1"}`) {
		t.Errorf("decision line %s", decision)
	}

	// Signals only once the service is up (SIGHUP is handled from before it starts).
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if got, want := svcNextLine(t, lines), `{"event":"policy","trigger":"SIGHUP","path":`+path+`,"hash":"`+svcHashOf("pypi.org")+`","kept":0,"closed":0,"rules":["pypi.org"],"problems":[]}`; got != want {
		t.Errorf("line %s; want %s", got, want)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`{"event":"stopping","signal":"SIGTERM"}`, `{"event":"stopped"}`} {
		if got := svcNextLine(t, lines); got != want {
			t.Errorf("line %s; want %s", got, want)
		}
	}
	if code := svcExitCode(t, cmd, lines); code != 0 {
		t.Errorf("exit code %d; want 0", code)
	}
	final := svcReadStats(t, statsPath)
	if final.PolicyHash != svcHashOf("pypi.org") || final.RequestsTotal != 1 || final.DeniedTotal != 1 || final.OpenConnections != 0 {
		t.Errorf("stats file after SIGTERM: %+v", final)
	}
}

// stop() right after startService: the accept loop may not have started yet (it once kept
// accepting then, and stop() waited for it for ever).
func TestSvcStopRightAfterStart(t *testing.T) {
	file := svcNewPolicyFile(t, svcAllow("pypi.org"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			s, err := startService(serviceOptions{policyPath: file.path, host: "127.0.0.1", port: 0, log: func(string) {}})
			if err != nil {
				t.Error(err)
				return
			}
			s.stop()
			if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), hWait); err == nil {
				conn.Close()
				t.Error("still accepting after stop")
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(hWait):
		t.Fatal("stop() did not return")
	}
}
