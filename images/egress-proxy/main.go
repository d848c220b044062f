// Entry point of the egress proxy container.
//
//	SANDBOXSHIFT_EGRESS_POLICY  path of the policy file, {"allow": [...]}
//	SANDBOXSHIFT_EGRESS_PORT    listening port, default 3128
//	SANDBOXSHIFT_EGRESS_HOST    listening address, default 0.0.0.0. The container also sits on the
//	                            outside network; binding the sandbox-side address keeps the proxy
//	                            from serving that network too.
//	SANDBOXSHIFT_EGRESS_STATS   where the live figures are written, default
//	                            /var/lib/sandboxshift-egress/stats.json
//
// SIGHUP (or a change to the file) reloads the policy; SIGTERM and SIGINT stop.
package main

import (
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"sandboxshift.dev/egress/policy"
)

var stdout sync.Mutex

func logLine(line string) {
	stdout.Lock()
	_, _ = os.Stdout.WriteString(line + "\n")
	stdout.Unlock()
}

func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

func main() {
	fitContainer()
	os.Exit(run())
}

// The container's limits (src/engine/egress-ops.ts): 128 MiB of memory and 128 pids, which
// count threads. Go would size itself to the host: up to one running thread per host CPU, and
// a heap that grows until the cgroup kills it. So at most 4 threads run Go code at once (a proxy
// spends its time waiting), and the collector works harder from 96 MiB on. GOMAXPROCS and
// GOMEMLIMIT in the environment win.
const (
	maxProcs    = 4
	memoryLimit = 96 << 20
)

func fitContainer() {
	if _, set := os.LookupEnv("GOMAXPROCS"); !set && runtime.GOMAXPROCS(0) > maxProcs {
		runtime.GOMAXPROCS(maxProcs)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit)
	}
}

func run() int {
	policyPath := os.Getenv("SANDBOXSHIFT_EGRESS_POLICY")
	if policyPath == "" {
		logLine(eventLine("fatal", "error", "SANDBOXSHIFT_EGRESS_POLICY is not set"))
		return 1
	}
	portText := envOr("SANDBOXSHIFT_EGRESS_PORT", "3128")
	port, ok := policy.ParsePort(portText)
	if !ok {
		logLine(eventLine("fatal", "error", "SANDBOXSHIFT_EGRESS_PORT is not a port: "+portText))
		return 1
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	svc, err := startService(serviceOptions{
		policyPath:    policyPath,
		host:          envOr("SANDBOXSHIFT_EGRESS_HOST", "0.0.0.0"),
		port:          port,
		log:           logLine,
		watchInterval: 500 * time.Millisecond,
		statsPath:     envOr("SANDBOXSHIFT_EGRESS_STATS", defaultStatsPath),
	})
	if err != nil {
		logLine(eventLine("fatal", "error", err.Error()))
		return 1
	}
	for sig := range signals {
		if sig == syscall.SIGHUP {
			svc.reloadPolicy("SIGHUP")
			continue
		}
		name := "SIGTERM"
		if sig == syscall.SIGINT {
			name = "SIGINT"
		}
		logLine(eventLine("stopping", "signal", name))
		// Tunnels are dropped by stop(); this is only a backstop against a stuck close.
		time.AfterFunc(5*time.Second, func() { os.Exit(1) })
		svc.stop()
		return 0
	}
	return 0
}
