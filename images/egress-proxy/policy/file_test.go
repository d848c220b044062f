package policy

// The policy file and its hash (the loadPolicyFile and policyHash cases of
// 2a29766:test/unit/egress/service.test.ts, and more).

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writePolicyFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Each hash was computed with Node:
//
//	node -e 'console.log(require("crypto").createHash("sha256").update(JSON.stringify({allow:[...]})).digest("hex"))'
var nodeHashes = []struct {
	allow []string
	hash  string
}{
	{[]string{}, "sha256:80c9860a313d2f681d209a3c71b680722f6bebda3bd661a7e715a9a43bdde82d"},
	{[]string{"a.test"}, "sha256:8d759dd7bbd7de18eeedd7d99b09895ae9a4635a0efdfd1bd1a4fc57894e0ffb"},
	{[]string{"pypi.org", "*.github.com"}, "sha256:7c362c5fdfaa06b6a5524a34fccb0364d6553d7bf0bdc6c3692baf5a5332e8fc"},
	{[]string{"127.0.0.1:9", "pypi.org", "https://bad.test/"}, "sha256:fd4f1227c5287cfa77505829e68053fe95497b09290928eb51c26b48d332e100"},
	{[]string{"<script>&amp;</script>"}, "sha256:d1239eb75de2322152eb4d5f4ef882f70d2d73c6325c3b973954f8bc95b4499f"},
	{[]string{`a"b`, `back\slash`, `\u2028`}, "sha256:039c4f98ee3aafd5a1f61d19dd94f82aafcb2533f4d0cbe8292f9bc127ec7aab"},
	{[]string{"<", "&", ">", `"`, `\`}, "sha256:37bab7c2dcf33ffefc473b77559025d2e9fe5aa527a57e1db29f8e2eeb606fb7"},
	{[]string{"\b\f\n\r\t\x00\x1f\x7f"}, "sha256:d2c185608d43a50dabf367d62278ef2cd0ff45ff9c17d3c3ddfe862c976d6abe"},
	{[]string{"line\u2028sep\u2029para"}, "sha256:ec40e6ec6755e4befe8a685b3794fc04a7048309b96a397cebffd6051464ac63"},
	{[]string{"bücher.example", "😀", "\ufffd"}, "sha256:022d7e278f74555f0f1ceb0548c99ed71078694e7693f9f71025769ee2329eb3"},
}

func TestHashEqualsNode(t *testing.T) {
	for _, c := range nodeHashes {
		if got := Hash(c.allow); got != c.hash {
			t.Errorf("Hash(%q) = %s; want %s", c.allow, got, c.hash)
		}
	}
	if got, want := Hash(nil), nodeHashes[0].hash; got != want {
		t.Errorf("Hash(nil) = %s; want the hash of [] %s", got, want)
	}
}

func TestJSEscapes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`"\u0008\u000c\u2028\u2029"`, "\"\\b\\f\u2028\u2029\""},
		{`"\\u2028\\\u2028"`, "\"\\\\u2028\\\\\u2028\""},
		{`"\u001f\ufffd\n"`, `"\u001f\ufffd\n"`},
		{`"plain"`, `"plain"`},
	} {
		if got := string(jsEscapes([]byte(c.in))); got != c.want {
			t.Errorf("jsEscapes(%s) = %s; want %s", c.in, got, c.want)
		}
	}
}

func TestLoadFileReportsEntriesItCannotUse(t *testing.T) {
	path := writePolicyFile(t, `{"allow": ["pypi.org", "https://bad.test/"]}`)
	load, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := load.Policy.Entries(); !reflect.DeepEqual(got, []string{"pypi.org"}) {
		t.Errorf("rules = %q", got)
	}
	if want := []Problem{{Entry: "https://bad.test/", Message: "not a valid CIDR range"}}; !reflect.DeepEqual(load.Problems, want) {
		t.Errorf("problems = %#v; want %#v", load.Problems, want)
	}
	if !reflect.DeepEqual(load.Allow, []string{"pypi.org", "https://bad.test/"}) {
		t.Errorf("allow = %q", load.Allow)
	}
	if want := Hash([]string{"pypi.org", "https://bad.test/"}); load.Hash != want {
		t.Errorf("hash = %s; want %s", load.Hash, want)
	}
}

func TestLoadFileHashAndEmptyLists(t *testing.T) {
	for _, c := range nodeHashes[:4] {
		content, _ := json.Marshal(map[string][]string{"allow": c.allow})
		load, err := LoadFile(writePolicyFile(t, string(content)))
		if err != nil {
			t.Fatal(err)
		}
		if load.Hash != c.hash {
			t.Errorf("%s: hash = %s; want %s", content, load.Hash, c.hash)
		}
	}
	load, err := LoadFile(writePolicyFile(t, `{"allow": []}`))
	if err != nil {
		t.Fatal(err)
	}
	problems, _ := json.Marshal(load.Problems)
	allow, _ := json.Marshal(load.Allow)
	if string(problems) != "[]" || string(allow) != "[]" || len(load.Policy.Rules) != 0 {
		t.Errorf("empty list: problems %s, allow %s, rules %#v", problems, allow, load.Policy.Rules)
	}
}

func TestLoadFileRefusesAFileThatIsNotAPolicy(t *testing.T) {
	for _, content := range []string{
		`{"allow": "pypi.org"}`,
		`{"allow": [1]}`,
		`{"allow": [null]}`,
		`{"allow": [["a.test"]]}`,
		`{"allow": null}`,
		`{}`,
		`[]`,
		`["a.test"]`,
		`null`,
		`"x"`,
		`1`,
		`{"Allow": ["a.test"]}`,             // keys are case-sensitive
		`{"allow": ["a.test"], "allow": 5}`, // the last of a repeated key counts
		`{"__proto__": {"allow": ["a.test"]}}`,
	} {
		path := writePolicyFile(t, content)
		_, err := LoadFile(path)
		want := `policy file ` + path + ` must hold {"allow": [strings]}`
		if err == nil || err.Error() != want {
			t.Errorf("LoadFile(%s) error = %v; want %s", content, err, want)
		}
	}
}

func TestLoadFileCannotRead(t *testing.T) {
	for _, content := range []string{
		`{not json`,
		`{"allow": [`,
		``,
		`{"allow": ["a.test"]} x`,
		`{"allow": ["a.test"]}{}`,
		`{"allow": ["a.test",]}`,
		`{'allow': ['a.test']}`,
		`{"allow": ["a.test"], "n": 01}`,
		`{"allow": ["a.test"], "n": NaN}`,
		"{\"allow\": [\"a\tb\"]}", // a raw control character in a string
		"\ufeff{\"allow\": [\"a.test\"]}",
		`{"allow": ["a.test"]} // comment`,
	} {
		path := writePolicyFile(t, content)
		_, err := LoadFile(path)
		prefix := "cannot read policy file " + path + ": "
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || len(err.Error()) == len(prefix) {
			t.Errorf("LoadFile(%q) error = %v; want %q and a message", content, err, prefix)
		}
	}
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "missing.json"), dir} {
		_, err := LoadFile(path)
		prefix := "cannot read policy file " + path + ": "
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || len(err.Error()) == len(prefix) {
			t.Errorf("LoadFile(%s) error = %v; want %q and a message", path, err, prefix)
		}
	}
}

func TestLoadFileReadsWhatJSONParseReads(t *testing.T) {
	for _, c := range []struct {
		content string
		allow   []string
	}{
		{" \n\t{\"allow\": [\"a.test\"]}\r\n ", []string{"a.test"}},
		{`{"allow": ["a.test"], "allow": ["b.test"]}`, []string{"b.test"}},
		{`{"ALLOW": ["a.test"], "allow": ["b.test"]}`, []string{"b.test"}},
		// JSON.parse reads 1e400 as Infinity; it is no error.
		{`{"allow": ["a.test"], "x": 1e400, "y": -0, "z": 123456789012345678901234567890}`, []string{"a.test"}},
		{`{"allow": ["a\u002etest", "\ud83d\ude00", "<&>\"\\"]}`, []string{"a.test", "😀", `<&>"\`}},
		{"{\"allow\": [\"a\u2028b\"]}", []string{"a\u2028b"}},
		// Not UTF-8: as Node's readFileSync(path, 'utf8'), one U+FFFD per maximal ill-formed
		// subsequence (E2 82 is one; ED A0 80, a surrogate, is three).
		{"{\"allow\": [\"a\xe2\x82b\", \"\xf0\x9f\x98\", \"\xed\xa0\x80\", \"\xc0\xaf\", \"\xff\", \"\xf4\x90\x80\x80\", \"\xe0\x80\x80\", \"\xe2\x82\xe2\x82\xac\"]}",
			[]string{"a\ufffdb", "\ufffd", "\ufffd\ufffd\ufffd", "\ufffd\ufffd", "\ufffd", "\ufffd\ufffd\ufffd\ufffd", "\ufffd\ufffd\ufffd", "\ufffd€"}},
		// A lone surrogate escape: JSON.parse keeps it; Go cannot hold it and reads U+FFFD (the
		// entry's text and the hash differ from the TypeScript's here).
		{`{"allow": ["\ud800"]}`, []string{"\ufffd"}},
	} {
		load, err := LoadFile(writePolicyFile(t, c.content))
		if err != nil {
			t.Errorf("LoadFile(%q): %v", c.content, err)
			continue
		}
		if !reflect.DeepEqual(load.Allow, c.allow) {
			t.Errorf("LoadFile(%q) allow = %q; want %q", c.content, load.Allow, c.allow)
		}
	}
}

func TestLoadFileBytesNotUTF8Hash(t *testing.T) {
	// Computed with Node from this very file: readFileSync(path, 'utf8'), JSON.parse, then
	// sha256 of JSON.stringify({allow}), allow being ["a\ufffdb", "\ufffdx"].
	load, err := LoadFile(writePolicyFile(t, "{\"allow\":[\"a\xe2\x82b\",\"\xf0\x9f\x98x\"]}"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256:151b09724558530f88ccfa71213fe528bf481a62eda52e89d22b07bdc1ae5791"; load.Hash != want {
		t.Errorf("hash = %s; want %s", load.Hash, want)
	}
}
