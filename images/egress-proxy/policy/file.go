package policy

// The policy file the proxy container reads (policy-file.ts): `{"allow": ["pypi.org",
// "*.github.com"]}`. Written by SandboxShift; replace it atomically (write elsewhere, rename over)
// so a reload never reads half.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"unicode/utf8"
)

// FileLoad is a policy file read and parsed.
type FileLoad struct {
	Policy *Policy
	// Problems are the entries that could not be read (never nil).
	Problems []Problem
	// Allow is the list as the file holds it (never nil).
	Allow []string
	// Hash is Hash(Allow).
	Hash string
}

// LoadFile reads the policy file at path. The error is `cannot read policy file PATH: ...` when
// the file cannot be read or is not JSON, and `policy file PATH must hold {"allow": [strings]}`
// when it is JSON of another shape.
//
// As Node's readFileSync(path, 'utf8') does, bytes that are not UTF-8 are read as U+FFFD, one per
// maximal ill-formed subsequence (the WHATWG decoder). One difference from JSON.parse remains: a
// `\u` escape of a lone surrogate (`"\ud800"`) becomes U+FFFD here, where JavaScript keeps the lone
// surrogate (and JSON.stringify writes it back as `\ud800`), so such an entry's text and the hash
// differ.
func LoadFile(path string) (FileLoad, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return FileLoad{}, fmt.Errorf("cannot read policy file %s: %v", path, err)
	}
	data := []byte(decodeUTF8(raw))
	// Checked as a whole first (json.Unmarshal into a RawMessage), so trailing text is an error as
	// in JSON.parse; then decoded with numbers kept as text, so a number JavaScript reads as
	// Infinity (1e400) is no error either.
	var whole json.RawMessage
	if err := json.Unmarshal(data, &whole); err != nil {
		return FileLoad{}, fmt.Errorf("cannot read policy file %s: %v", path, err)
	}
	var value interface{}
	decoder := json.NewDecoder(bytes.NewReader(whole))
	decoder.UseNumber()
	if err := decoder.Decode(&value); err != nil {
		return FileLoad{}, fmt.Errorf("cannot read policy file %s: %v", path, err)
	}
	// A map, not a struct: encoding/json matches struct fields case-insensitively, and `Allow` is
	// not `allow`. On a repeated key the last one wins, as in JSON.parse.
	object, _ := value.(map[string]interface{})
	list, isList := object["allow"].([]interface{})
	if !isList {
		return FileLoad{}, errors.New(mustHold(path))
	}
	allow := make([]string, 0, len(list))
	for _, item := range list {
		entry, isString := item.(string)
		if !isString {
			return FileLoad{}, errors.New(mustHold(path))
		}
		allow = append(allow, entry)
	}
	policy, problems := Parse(allow)
	return FileLoad{Policy: policy, Problems: problems, Allow: allow, Hash: Hash(allow)}, nil
}

func mustHold(path string) string {
	return fmt.Sprintf(`policy file %s must hold {"allow": [strings]}`, path)
}

// Hash is the policy's identity, `sha256:` and the hex SHA-256 of `{"allow":[...]}` exactly as
// JavaScript's JSON.stringify({allow}) writes it: the value policyHash() gives in
// src/app/egress.ts, so the engine side can tell from a log line or
// the stats file which list the proxy enforces.
//
// encoding/json (HTML escaping off) writes the same text as JSON.stringify except for four
// escapes, which are put back the JavaScript way: U+2028 and U+2029 (Go writes `\u2028`, `\u2029`;
// JavaScript writes the characters), backspace and form feed (Go 1.19 writes `\u0008`, `\u000c`;
// JavaScript writes `\b`, `\f`). What cannot match: a Go string that is not UTF-8 has its bad bytes
// written as `\ufffd`, while a JavaScript string is never ill-formed UTF-8 but may hold a lone
// surrogate, which JSON.stringify writes as `\udXXX`. Entries read by LoadFile are always UTF-8.
func Hash(allow []string) string {
	if allow == nil {
		allow = []string{} // `[]`, not `null`
	}
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(struct {
		Allow []string `json:"allow"`
	}{allow}); err != nil {
		panic(err) // a list of strings always encodes
	}
	text := jsEscapes(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	sum := sha256.Sum256(text)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// jsEscapes rewrites the escapes in encoding/json output that JSON.stringify writes otherwise.
// It walks escape by escape, so a `\\u2028` (an escaped backslash, then text) is left alone.
func jsEscapes(encoded []byte) []byte {
	if !bytes.Contains(encoded, []byte(`\u`)) {
		return encoded
	}
	out := make([]byte, 0, len(encoded))
	for i := 0; i < len(encoded); i++ {
		c := encoded[i]
		if c != '\\' || i+1 >= len(encoded) {
			out = append(out, c)
			continue
		}
		if encoded[i+1] != 'u' || i+6 > len(encoded) {
			out = append(out, c, encoded[i+1])
			i++
			continue
		}
		switch string(encoded[i+2 : i+6]) {
		case "0008":
			out = append(out, `\b`...)
		case "000c":
			out = append(out, `\f`...)
		case "2028":
			out = append(out, "\u2028"...)
		case "2029":
			out = append(out, "\u2029"...)
		default:
			out = append(out, encoded[i:i+6]...)
		}
		i += 5
	}
	return out
}

// decodeUTF8 reads bytes as UTF-8 the way the WHATWG Encoding Standard (and so Node) does: each
// maximal ill-formed subsequence becomes one U+FFFD.
func decodeUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out []rune
	var cp rune
	needed, seen := 0, 0
	lower, upper := byte(0x80), byte(0xbf)
	for i := 0; i < len(b); {
		c := b[i]
		if needed == 0 {
			i++
			switch {
			case c <= 0x7f:
				out = append(out, rune(c))
			case c >= 0xc2 && c <= 0xdf:
				needed, cp = 1, rune(c&0x1f)
			case c >= 0xe0 && c <= 0xef:
				if c == 0xe0 {
					lower = 0xa0
				} else if c == 0xed {
					upper = 0x9f
				}
				needed, cp = 2, rune(c&0x0f)
			case c >= 0xf0 && c <= 0xf4:
				if c == 0xf0 {
					lower = 0x90
				} else if c == 0xf4 {
					upper = 0x8f
				}
				needed, cp = 3, rune(c&0x07)
			default:
				out = append(out, utf8.RuneError)
			}
			continue
		}
		if c < lower || c > upper {
			// The byte starts over: it is read again as the first of a sequence.
			needed, seen, cp = 0, 0, 0
			lower, upper = 0x80, 0xbf
			out = append(out, utf8.RuneError)
			continue
		}
		i++
		lower, upper = 0x80, 0xbf
		cp = cp<<6 | rune(c&0x3f)
		seen++
		if seen == needed {
			out = append(out, cp)
			needed, seen, cp = 0, 0, 0
		}
	}
	if needed != 0 {
		out = append(out, utf8.RuneError)
	}
	return string(out)
}
