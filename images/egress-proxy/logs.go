// The proxy's output is a stream of JSON lines, one per decision, so the user (and tests) can see
// exactly what a sandbox tried to reach and why it was or was not let through. Lines about the
// proxy itself (listening, policy loaded, stopping) are told apart by `event`.

package main

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Decision is one allow or deny. Host and Port are nil when the request had none.
type Decision struct {
	Client   string
	Method   string
	Host     *string
	Port     *int
	Allow    bool
	Rule     string
	Reason   string
	Resolved []string
}

type decisionJSON struct {
	TS       string   `json:"ts"`
	Client   string   `json:"client"`
	Method   string   `json:"method"`
	Host     *string  `json:"host"`
	Port     *int     `json:"port"`
	Decision string   `json:"decision"`
	Rule     string   `json:"rule,omitempty"`
	Reason   string   `json:"reason"`
	Resolved []string `json:"resolved,omitempty"`
}

// isoTime is JavaScript's Date.toISOString: UTC, milliseconds, Z.
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func decisionLine(d Decision, now time.Time) string {
	verdict := "deny"
	if d.Allow {
		verdict = "allow"
	}
	return marshal(decisionJSON{TS: isoTime(now), Client: d.Client, Method: d.Method, Host: d.Host, Port: d.Port, Decision: verdict, Rule: d.Rule, Reason: d.Reason, Resolved: d.Resolved})
}

// eventLine writes {"ts", "event", then the fields in the order given (name, value, name, value...)}.
func eventLine(event string, fields ...interface{}) string {
	var b bytes.Buffer
	b.WriteString(`{"ts":`)
	b.WriteString(marshal(isoTime(time.Now())))
	b.WriteString(`,"event":`)
	b.WriteString(marshal(event))
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteByte(',')
		b.WriteString(marshal(fields[i]))
		b.WriteByte(':')
		b.WriteString(marshal(fields[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

// marshal is JSON.stringify for the values the proxy logs: no HTML escaping.
func marshal(v interface{}) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return `null`
	}
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

// clip bounds request text echoed into logs: it is the sandbox's to choose.
func clip(text string, max int) string {
	if utf8.RuneCountInString(text) <= max {
		return text
	}
	runes := []rune(text)
	return string(runes[:max]) + "…"
}

func strPtr(s string) *string { return &s }
func intPtr(n int) *int       { return &n }
