package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func waitABit() { time.Sleep(5 * time.Millisecond) }

type watchClient struct {
	*client
	t *testing.T
}

// next reads the next EVENT.
func (w watchClient) next() watchEvent {
	w.t.Helper()
	typ, b := w.read()
	var ev watchEvent
	if typ != tEvent || json.Unmarshal(b, &ev) != nil {
		w.t.Fatalf("frame %d %s, want an EVENT", typ, b)
	}
	return ev
}

// expect reads events until want comes (others, e.g. a change after a create, may come
// between); it fails on a forbidden one.
func (w watchClient) expect(want watchEvent, forbid ...watchEvent) {
	w.t.Helper()
	for {
		ev := w.next()
		if ev == want {
			return
		}
		for _, f := range forbid {
			if ev == f {
				w.t.Fatalf("unexpected %+v while waiting for %+v", ev, want)
			}
		}
	}
}

// ready waits until the watch is in place: the protocol has no acknowledgement, so probe
// files are made until one is seen.
func (w watchClient) ready(dir string) {
	w.t.Helper()
	for i := 0; ; i++ {
		probe := filepath.Join(dir, fmt.Sprintf(".probe-%d", i))
		os.WriteFile(probe, nil, 0o644)
		os.Remove(probe)
		typ, b, err := w.readWithin(200 * time.Millisecond)
		if err == nil && typ != tEvent {
			w.t.Fatalf("frame %d %s while waiting for the watch", typ, b)
		}
		if err == nil && typ == tEvent {
			// Drain the probe's events.
			for {
				if _, _, err := w.readWithin(100 * time.Millisecond); err != nil {
					return
				}
			}
		}
		if i > 100 {
			w.t.Fatal("the watch never saw a probe")
		}
	}
}

func TestWatchRecursive(t *testing.T) {
	rt := startDaemon(t, nil)
	c := rt.accept()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "old", "deeper"), 0o755)
	c.sendJSON(tOpen, map[string]any{"op": "watch", "path": root, "roots": []string{root}, "recursive": true})
	w := watchClient{c, t}
	w.ready(root)

	f := filepath.Join(root, "a.txt")
	os.WriteFile(f, []byte("1"), 0o644)
	w.expect(watchEvent{Type: "created", Path: f})
	// Many writes in a row make one change.
	fh, _ := os.OpenFile(f, os.O_WRONLY|os.O_APPEND, 0)
	for i := 0; i < 20; i++ {
		fh.Write([]byte("more"))
	}
	fh.Close()
	w.expect(watchEvent{Type: "changed", Path: f})

	// A directory that existed before the watch, and one made after it, with its contents.
	deep := filepath.Join(root, "old", "deeper", "x")
	os.WriteFile(deep, nil, 0o644)
	w.expect(watchEvent{Type: "created", Path: deep})
	sub := filepath.Join(root, "new")
	os.MkdirAll(filepath.Join(sub, "inner"), 0o755)
	w.expect(watchEvent{Type: "created", Path: sub, Dir: true})
	g := filepath.Join(sub, "inner", "g")
	os.WriteFile(g, nil, 0o644)
	w.expect(watchEvent{Type: "created", Path: g})

	os.Remove(f)
	w.expect(watchEvent{Type: "deleted", Path: f}, watchEvent{Type: "changed", Path: f})
	c.send(tControl, []byte(`{"cancel":true}`))
	for {
		typ, b := c.read()
		if typ == tEnd {
			if string(b) != `{"ok":true}` {
				t.Fatalf("END %s", b)
			}
			break
		}
	}
	mustOK(t, c.do(map[string]any{"op": "ping"}))
}

func TestWatchLimits(t *testing.T) {
	rt := startDaemon(t, nil)
	root := t.TempDir()
	for i := 0; i < maxWatches; i++ {
		c := rt.accept()
		c.sendJSON(tOpen, map[string]any{"op": "watch", "path": root})
	}
	// The watches start on goroutines of their own: wait until all hold their slot.
	for {
		rt.d.watches.mu.Lock()
		n := rt.d.watches.n
		rt.d.watches.mu.Unlock()
		if n == maxWatches {
			break
		}
		waitABit()
	}
	mustCode(t, rt.accept().do(map[string]any{"op": "watch", "path": root}), "busy")
	f := filepath.Join(root, "plain")
	os.WriteFile(f, nil, 0o644)
	_ = f
}

func TestWatchDirectoryLimitSaysOverflow(t *testing.T) {
	rt := startDaemon(t, nil)
	rt.d.watchDirs = 3
	root := t.TempDir()
	for _, d := range []string{"a", "b", "c", "d"} {
		os.Mkdir(filepath.Join(root, d), 0o755)
	}
	c := rt.accept()
	c.sendJSON(tOpen, map[string]any{"op": "watch", "path": root, "recursive": true})
	w := watchClient{c, t}
	// The root and two of its four directories are watched; the rest is said as lost events.
	if ev := w.next(); ev.Type != "overflow" {
		t.Fatalf("first event %+v, want overflow", ev)
	}
	c.send(tControl, []byte(`{"cancel":true}`))
	mustOK(t, c.collect())
}
