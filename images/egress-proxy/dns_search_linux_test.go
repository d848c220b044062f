package main

// The proxy's own lookups never use the search domains of its resolv.conf. Docker copies the
// host's `search` line into the proxy's container (with ndots:0 on a user-defined network), and
// a stub resolver tries NAME.SEARCH after NAME fails: an allowed name that does not exist, or any
// under an allowed `*.example.com`, would then reach a host nobody allowed. Tested for real: in a
// mount and network namespace of its own (root, as the test command runs), the test binary sees a
// resolv.conf with `search corp.test` and a DNS server on its own loopback that knows only
// real.test.corp.test.

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const dnsSearchChild = "SANDBOXSHIFT_DNS_SEARCH_CHILD"

func TestLookupsNeverUseTheSearchDomains(t *testing.T) {
	if os.Getenv(dnsSearchChild) == "" {
		if os.Geteuid() != 0 {
			t.Fatal("this test needs root for its own mount and network namespace (the test command runs as root; sudo go test ./...)")
		}
		dir := t.TempDir()
		conf := filepath.Join(dir, "resolv.conf")
		if err := os.WriteFile(conf, []byte("nameserver 127.0.0.1\nsearch corp.test\noptions ndots:0 attempts:1 timeout:2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		script := `ip link set lo up && mount --bind "$1" /etc/resolv.conf && exec "$2" -test.run '^TestLookupsNeverUseTheSearchDomains$' -test.count=1 -test.v`
		cmd := exec.Command("unshare", "--mount", "--net", "--", "sh", "-c", script, "sh", conf, os.Args[0])
		cmd.Env = append(os.Environ(), dnsSearchChild+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestLookupsNeverUseTheSearchDomains") {
			t.Fatalf("in its own namespace the test failed (%v):\n%s", err, out)
		}
		return
	}

	asked := make(chan string, 16)
	pc, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		t.Fatalf("a DNS server on this namespace's loopback: %v", err)
	}
	defer pc.Close()
	go serveFakeDNS(pc, map[string][4]byte{"real.test.corp.test.": {93, 184, 216, 34}}, asked)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The check itself: the same lookup without the root's dot is searched and finds the other host.
	if got, err := net.DefaultResolver.LookupHost(ctx, "real.test"); err != nil || len(got) != 1 || got[0] != "93.184.216.34" {
		t.Fatalf("the stub resolver of this namespace should search corp.test for an unrooted name, got %v, %v", got, err)
	}
	drain(asked)

	answers, err := systemResolver(ctx, "real.test")
	var dnsErr *net.DNSError
	if err == nil || !errors.As(err, &dnsErr) || !dnsErr.IsNotFound || dnsErr.Name != "real.test" {
		t.Fatalf("real.test must not resolve through the search domain: got %v, %v", answers, err)
	}
	if got := drain(asked); strings.Join(got, ",") != "real.test." {
		t.Fatalf("the proxy asked the DNS server for %v, want only real.test.", got)
	}
	if answers, err := systemResolver(ctx, "real.test.corp.test"); err != nil || len(answers) != 1 || answers[0] != "93.184.216.34" {
		t.Fatalf("a name that exists resolves as ever: got %v, %v", answers, err)
	}
}

// drain returns the distinct names asked so far.
func drain(asked chan string) []string {
	var names []string
	seen := map[string]bool{}
	for {
		select {
		case name := <-asked:
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		case <-time.After(100 * time.Millisecond):
			return names
		}
	}
}

// serveFakeDNS answers A queries for the names in records, NXDOMAIN for every other name (and an
// empty answer for other types of a known name), and reports each name asked.
func serveFakeDNS(pc net.PacketConn, records map[string][4]byte, asked chan<- string) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		q := buf[:n]
		if len(q) < 12 {
			continue
		}
		name, end, ok := dnsName(q, 12)
		if !ok || end+4 > len(q) {
			continue
		}
		qtype := int(q[end])<<8 | int(q[end+1])
		asked <- name
		addr, known := records[strings.ToLower(name)]
		resp := append([]byte{}, q[:end+4]...)
		resp[2] = 0x84 | (q[2] & 0x01) // a response, authoritative, RD copied
		resp[3] = 0x00
		resp[6], resp[7], resp[8], resp[9], resp[10], resp[11] = 0, 0, 0, 0, 0, 0
		if !known {
			resp[3] = 0x03 // NXDOMAIN
		} else if qtype == 1 {
			resp[7] = 1
			resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, addr[0], addr[1], addr[2], addr[3])
		}
		_, _ = pc.WriteTo(resp, from)
	}
}

// dnsName reads the uncompressed question name at off: "a.b." and the offset after it.
func dnsName(msg []byte, off int) (string, int, bool) {
	var labels []string
	for off < len(msg) {
		l := int(msg[off])
		off++
		if l == 0 {
			return strings.Join(labels, ".") + ".", off, true
		}
		if l > 63 || off+l > len(msg) {
			return "", 0, false
		}
		labels = append(labels, string(msg[off:off+l]))
		off += l
	}
	return "", 0, false
}
