package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tree makes a root and, beside it, an outside directory holding a secret.
func tree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside")
	os.MkdirAll(root, 0o755)
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	return root, outside
}

func write(c *client, path string, roots []string, data []byte, extra map[string]any) *result {
	open := map[string]any{"op": "write", "path": path, "size": len(data)}
	if roots != nil {
		open["roots"] = roots
	}
	for k, v := range extra {
		open[k] = v
	}
	var frames [][]byte
	for len(data) > 0 {
		n := min(len(data), 1000)
		frames = append(frames, data[:n])
		data = data[n:]
	}
	return c.do(open, append(frames, nil)...)
}

func TestWriteThenRead(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	root, _ := tree(t)
	roots := []string{root}
	data := bytes.Repeat([]byte("abc"), 50000)
	p := filepath.Join(root, "a", "b", "c.txt")
	mustOK(t, write(c, p, roots, data, map[string]any{"mkdirs": true, "mode": 0o600}))
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("written file: %v %v", st, err)
	}
	r := c.do(map[string]any{"op": "read", "path": p, "roots": roots})
	mustOK(t, r)
	if !bytes.Equal(r.stdout.Bytes(), data) || r.num("size") != int64(len(data)) {
		t.Fatalf("read %d bytes, size %v", r.stdout.Len(), r.end["size"])
	}
	for _, f := range r.frames[:len(r.frames)-1] {
		if f != tStdout {
			t.Fatalf("frames %v", r.frames)
		}
	}
	// Without mkdirs a missing parent is not_found.
	mustCode(t, write(c, filepath.Join(root, "x", "y"), roots, []byte("1"), nil), "not_found")
	// An empty file.
	mustOK(t, write(c, filepath.Join(root, "empty"), roots, nil, nil))
	r = c.do(map[string]any{"op": "read", "path": filepath.Join(root, "empty")})
	mustOK(t, r)
	if r.num("size") != 0 {
		t.Fatalf("empty: %v", r.end)
	}
}

func TestWriteIsAtomicAndSizeChecked(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	root, _ := tree(t)
	p := filepath.Join(root, "f")
	os.WriteFile(p, []byte("original"), 0o644)
	// Fewer bytes than announced.
	r := c.do(map[string]any{"op": "write", "path": p, "size": 10}, []byte("short"), nil)
	mustCode(t, r, "bad_request")
	// More bytes than announced: refused at once, the rest ignored.
	r = c.do(map[string]any{"op": "write", "path": p, "size": 2}, []byte("toolong"))
	mustCode(t, r, "bad_request")
	c.send(tStdin, nil)
	// The connection dropped in the middle of a write: once the daemon has begun writing
	// (its temporary file is there), the runtime goes away.
	c2 := rt.accept()
	c2.sendJSON(tOpen, map[string]any{"op": "write", "path": p, "size": 100})
	c2.send(tStdin, []byte("partial"))
	for entries, _ := os.ReadDir(root); len(entries) < 2; entries, _ = os.ReadDir(root) {
		waitABit()
	}
	c2.c.Close()
	mustOK(t, c.do(map[string]any{"op": "ping"})) // the late empty STDIN was ignored
	// The abandoned write's temporary file goes; the file was never replaced.
	for entries, _ := os.ReadDir(root); len(entries) > 1; entries, _ = os.ReadDir(root) {
		waitABit()
	}
	if b, _ := os.ReadFile(p); string(b) != "original" {
		t.Fatalf("the file was replaced: %q", b)
	}
	// A directory cannot be written over.
	os.Mkdir(filepath.Join(root, "d"), 0o755)
	mustCode(t, write(c, filepath.Join(root, "d"), nil, []byte("x"), nil), "not_a_file")
}

func TestReadBounds(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	root, _ := tree(t)
	p := filepath.Join(root, "f")
	os.WriteFile(p, []byte("0123456789"), 0o644)
	r := c.do(map[string]any{"op": "read", "path": p, "maxBytes": 9})
	mustCode(t, r, "too_large")
	if len(r.frames) != 1 {
		t.Fatalf("too_large sent %v", r.frames)
	}
	mustOK(t, c.do(map[string]any{"op": "read", "path": p, "maxBytes": 10}))
	mustCode(t, c.do(map[string]any{"op": "read", "path": root}), "not_a_file")
	fifo := filepath.Join(root, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	mustCode(t, c.do(map[string]any{"op": "read", "path": fifo}), "not_a_file")
	mustCode(t, c.do(map[string]any{"op": "read", "path": filepath.Join(root, "missing")}), "not_found")
	mustCode(t, c.do(map[string]any{"op": "read", "path": filepath.Join(p, "under-a-file")}), "not_a_directory")
}

func TestRootsAfterLinks(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	root, outside := tree(t)
	roots := []string{root}
	secret := filepath.Join(outside, "secret")
	os.Symlink(outside, filepath.Join(root, "dirlink"))
	os.Symlink(secret, filepath.Join(root, "filelink"))
	os.WriteFile(filepath.Join(root, "inside"), []byte("inside"), 0o644)
	os.Symlink(filepath.Join(root, "inside"), filepath.Join(root, "goodlink"))

	refused := []map[string]any{
		{"op": "read", "path": filepath.Join(root, "dirlink", "secret")},
		{"op": "read", "path": filepath.Join(root, "filelink")},
		{"op": "read", "path": filepath.Join(root, "..", "outside", "secret")},
		{"op": "read", "path": "/proc/self/root" + secret},
		{"op": "read", "path": secret},
		{"op": "stat", "path": filepath.Join(root, "dirlink", "secret")},
		{"op": "list", "path": filepath.Join(root, "dirlink")},
		{"op": "delete", "path": filepath.Join(root, "dirlink", "secret")},
		{"op": "watch", "path": filepath.Join(root, "dirlink")},
	}
	for _, open := range refused {
		open["roots"] = roots
		mustCode(t, c.do(open), "path_not_allowed")
	}
	mustCode(t, write(c, filepath.Join(root, "dirlink", "new"), roots, []byte("x"), nil), "path_not_allowed")
	mustCode(t, write(c, filepath.Join(root, "dirlink", "a", "new"), roots, []byte("x"), map[string]any{"mkdirs": true}), "path_not_allowed")
	mustCode(t, write(c, filepath.Join(root, "filelink"), roots, []byte("x"), nil), "path_not_allowed")
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Fatal("a file was written outside the roots")
	}
	if _, err := os.Stat(filepath.Join(outside, "a")); err == nil {
		t.Fatal("a directory was made outside the roots")
	}
	if b, _ := os.ReadFile(secret); string(b) != "secret" {
		t.Fatal("the file outside was changed")
	}
	// An empty list of roots allows nothing.
	mustCode(t, c.do(map[string]any{"op": "stat", "path": root, "roots": []string{}}), "path_not_allowed")

	// Links that stay inside are followed; the link itself can be looked at and deleted.
	r := c.do(map[string]any{"op": "read", "path": filepath.Join(root, "goodlink"), "roots": roots})
	mustOK(t, r)
	if r.stdout.String() != "inside" {
		t.Fatalf("goodlink: %q", r.stdout.String())
	}
	r = c.do(map[string]any{"op": "stat", "path": filepath.Join(root, "filelink"), "roots": roots})
	mustOK(t, r)
	if r.end["type"] != "symlink" {
		t.Fatalf("stat of a link: %v", r.end)
	}
	mustOK(t, c.do(map[string]any{"op": "delete", "path": filepath.Join(root, "dirlink"), "roots": roots}))
	if _, err := os.Stat(secret); err != nil {
		t.Fatal("deleting a link removed its target")
	}
	// The roots themselves may be reached through a link.
	linkRoot := filepath.Join(filepath.Dir(root), "rootlink")
	os.Symlink(root, linkRoot)
	mustOK(t, c.do(map[string]any{"op": "stat", "path": filepath.Join(root, "inside"), "roots": []string{linkRoot}}))
}

func TestVerifyCatchesASwappedDirectory(t *testing.T) {
	root, outside := tree(t)
	sub := filepath.Join(root, "sub")
	os.Mkdir(sub, 0o755)
	tg, err := resolve(filepath.Join(sub, "secret"), []string{root}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	// Between the check and the open, the directory becomes a link to outside.
	os.Remove(sub)
	os.Symlink(outside, sub)
	if _, err := openFinal(tg, oPath); err == nil || !strings.Contains(err.Error(), "path_not_allowed") {
		t.Fatalf("opened through a swapped-in link: %v", err)
	}
}

func TestStatListDelete(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	root, _ := tree(t)
	for _, n := range []string{"c", "a", "b"} {
		os.WriteFile(filepath.Join(root, n), []byte(n+n), 0o640)
	}
	os.MkdirAll(filepath.Join(root, "dir", "deep", "er"), 0o755)
	os.WriteFile(filepath.Join(root, "dir", "deep", "f"), nil, 0o644)

	r := c.do(map[string]any{"op": "stat", "path": filepath.Join(root, "a")})
	mustOK(t, r)
	if r.end["type"] != "file" || r.num("size") != 2 || r.num("mode") != 0o640 || r.num("mtimeMs") <= 0 {
		t.Fatalf("stat: %v", r.end)
	}
	r = c.do(map[string]any{"op": "list", "path": root})
	mustOK(t, r)
	entries := r.end["entries"].([]any)
	var names []string
	for _, e := range entries {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "a,b,c,dir" || r.end["truncated"] != false {
		t.Fatalf("list: %v", r.end)
	}
	if entries[3].(map[string]any)["type"] != "dir" {
		t.Fatalf("list types: %v", entries)
	}
	r = c.do(map[string]any{"op": "list", "path": root, "limit": 2})
	mustOK(t, r)
	if len(r.end["entries"].([]any)) != 2 || r.end["truncated"] != true || r.end["entries"].([]any)[1].(map[string]any)["name"] != "b" {
		t.Fatalf("list limit: %v", r.end)
	}
	mustCode(t, c.do(map[string]any{"op": "list", "path": filepath.Join(root, "a")}), "not_a_directory")

	mustOK(t, c.do(map[string]any{"op": "delete", "path": filepath.Join(root, "a")}))
	mustCode(t, c.do(map[string]any{"op": "delete", "path": filepath.Join(root, "a")}), "not_found")
	mustCode(t, c.do(map[string]any{"op": "delete", "path": filepath.Join(root, "dir")}), "bad_request")
	mustOK(t, c.do(map[string]any{"op": "delete", "path": filepath.Join(root, "dir"), "recursive": true}))
	if _, err := os.Stat(filepath.Join(root, "dir")); err == nil {
		t.Fatal("recursive delete left the directory")
	}
	os.Mkdir(filepath.Join(root, "emptydir"), 0o755)
	mustOK(t, c.do(map[string]any{"op": "delete", "path": filepath.Join(root, "emptydir")}))
}

func TestListAnswerFitsInOneFrame(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	root := t.TempDir()
	// 10,000 entries of 200-byte names answer far more than 1 MiB of JSON.
	for i := 0; i < maxListLimit; i++ {
		name := fmt.Sprintf("%05d-%s", i, strings.Repeat("n", 194))
		if err := os.WriteFile(filepath.Join(root, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := c.do(map[string]any{"op": "list", "path": root, "limit": maxListLimit})
	mustOK(t, r)
	entries := r.end["entries"].([]any)
	if r.end["truncated"] != true || len(entries) == 0 || len(entries) == maxListLimit {
		t.Fatalf("%d entries, truncated %v", len(entries), r.end["truncated"])
	}
	for i, e := range entries {
		if want := fmt.Sprintf("%05d-", i); !strings.HasPrefix(e.(map[string]any)["name"].(string), want) {
			t.Fatalf("entry %d is %v", i, e)
		}
	}
}

func TestWriteInFullFrames(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	p := filepath.Join(t.TempDir(), "big")
	data := bytes.Repeat([]byte("y"), 10<<20)
	c.sendJSON(tOpen, map[string]any{"op": "write", "path": p, "size": len(data)})
	for off := 0; off < len(data); off += maxPayload {
		c.send(tStdin, data[off:off+maxPayload])
	}
	c.send(tStdin, nil)
	mustOK(t, c.collect())
	r := c.do(map[string]any{"op": "read", "path": p})
	mustOK(t, r)
	if !bytes.Equal(r.stdout.Bytes(), data) {
		t.Fatalf("read back %d bytes", r.stdout.Len())
	}
}
