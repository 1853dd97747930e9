package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// conn is one connection to the runtime, carrying one request at a time.
type conn struct {
	d  *daemon
	nc net.Conn
	w  frameWriter
}

// req is the request a connection is carrying. Its handler owns it; the connection's reader
// hands it STDIN and CONTROL frames and says when the connection is gone.
type req struct {
	c     *conn
	stdin chan []byte  // nil when the op takes no input: STDIN frames are dropped
	ctrl  chan control // nil when the op takes no control: CONTROL frames are dropped
	done  chan struct{}
	gone  chan struct{}
	once  sync.Once
}

// control is a CONTROL payload.
type control struct {
	Signal string   `json:"signal,omitempty"`
	Resize *winSize `json:"resize,omitempty"`
	Cancel bool     `json:"cancel,omitempty"`
}

type winSize struct {
	Cols int `json:"cols"`
	Rows int `json:"rows"`
}

func (r *req) send(typ byte, payload []byte) error { return r.c.w.write(typ, payload) }

// event sends one EVENT frame.
func (r *req) event(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return r.send(tEvent, b)
}

// end sends the request's one END (later calls do nothing). The request is marked over
// before END leaves, so the runtime's next OPEN always finds the connection idle.
func (r *req) end(v any) {
	r.once.Do(func() {
		b, err := json.Marshal(v)
		if err != nil || len(b) > maxPayload {
			b = []byte(`{"ok":false,"error":{"code":"internal","message":"result not encodable in one frame"}}`)
		}
		close(r.done)
		r.c.becameIdle()
		_ = r.send(tEnd, b)
	})
}

// fail ends the request with an error.
func (r *req) fail(err error) { r.end(errorResult(err)) }

func (r *req) isDone() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (c *conn) becameIdle() {
	c.d.mu.Lock()
	c.d.idle++
	c.d.mu.Unlock()
	_ = c.nc.SetReadDeadline(time.Now().Add(c.d.cfg.idleClose))
}

// serve reads the runtime's frames until the connection closes or breaks the protocol.
func (c *conn) serve() {
	var active *req
	defer func() {
		_ = c.nc.Close()
		if active != nil {
			close(active.gone)
		}
		c.d.mu.Lock()
		if active == nil || active.isDone() {
			c.d.idle--
		}
		c.d.total--
		delete(c.d.conns, c)
		c.d.mu.Unlock()
		c.d.poke()
	}()
	_ = c.nc.SetReadDeadline(time.Now().Add(c.d.cfg.idleClose))
	for {
		typ, payload, err := readFrame(c.nc)
		if errors.Is(err, errIdle) {
			if active != nil && !active.isDone() {
				continue
			}
			c.d.mu.Lock()
			surplus := c.d.idle > c.d.cfg.keepIdle
			c.d.mu.Unlock()
			if surplus {
				return
			}
			_ = c.nc.SetReadDeadline(time.Now().Add(c.d.cfg.idleClose))
			continue
		}
		if err != nil {
			return
		}
		busy := active != nil && !active.isDone()
		switch typ {
		case tOpen:
			if busy {
				return // out of turn: a request is under way
			}
			var head struct {
				Op string `json:"op"`
			}
			if json.Unmarshal(payload, &head) != nil {
				return // JSON that does not parse
			}
			if active != nil {
				close(active.gone) // the previous request is over; its goroutines may let go
			}
			c.d.mu.Lock()
			c.d.idle--
			c.d.mu.Unlock()
			c.d.poke()
			active = c.start(payload)
		case tStdin:
			if !busy || active.stdin == nil {
				continue
			}
			select {
			case active.stdin <- payload:
			case <-active.done:
			}
		case tControl:
			var ctl control
			if err := decodeStrict(payload, &ctl); err != nil || !validControl(ctl) {
				return
			}
			if !busy || active.ctrl == nil {
				continue
			}
			select {
			case active.ctrl <- ctl:
			case <-active.done:
			}
		default:
			return // WELCOME again
		}
	}
}

var signalNames = map[string]bool{"TERM": true, "KILL": true, "INT": true, "HUP": true}

func validControl(c control) bool {
	n := 0
	if c.Signal != "" {
		if !signalNames[c.Signal] {
			return false
		}
		n++
	}
	if c.Resize != nil {
		if !validSize(c.Resize.Cols) || !validSize(c.Resize.Rows) {
			return false
		}
		n++
	}
	if c.Cancel {
		n++
	}
	return n == 1
}

func validSize(n int) bool { return n >= 1 && n <= 10000 }

// decodeStrict parses one JSON object, refusing fields the target does not have and
// anything after the object.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

// start parses an OPEN and runs its handler on a goroutine of its own.
func (c *conn) start(payload []byte) *req {
	r := &req{c: c, done: make(chan struct{}), gone: make(chan struct{})}
	var head struct {
		Op string `json:"op"`
	}
	_ = json.Unmarshal(payload, &head) // parsed once already
	var run func()
	switch head.Op {
	case "ping":
		var o struct {
			Op string `json:"op"`
		}
		if err := decodeStrict(payload, &o); err != nil {
			go r.fail(badRequest("%v", err))
			return r
		}
		run = func() { r.end(pingResult()) }
	case "exec":
		var o execReq
		if err := parseOp(payload, &o); err != nil {
			go r.fail(err)
			return r
		}
		if o.Stdin {
			r.stdin = make(chan []byte)
		}
		r.ctrl = make(chan control, 4)
		run = func() { c.d.runExec(r, &o) }
	case "pty":
		var o ptyReq
		if err := parseOp(payload, &o); err != nil {
			go r.fail(err)
			return r
		}
		r.stdin = make(chan []byte)
		r.ctrl = make(chan control, 4)
		run = func() { c.d.runPty(r, &o) }
	case "read", "write", "stat", "list", "delete":
		var o fileReq
		if err := parseOp(payload, &o); err != nil {
			go r.fail(err)
			return r
		}
		if head.Op == "write" {
			r.stdin = make(chan []byte)
		}
		run = func() { runFile(r, &o) }
	case "watch":
		var o watchReq
		if err := parseOp(payload, &o); err != nil {
			go r.fail(err)
			return r
		}
		r.ctrl = make(chan control, 4)
		run = func() { c.d.runWatch(r, &o) }
	default:
		go r.fail(badRequest("op: unknown op %q", truncate(head.Op, 64)))
		return r
	}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				r.fail(fmt.Errorf("internal: %v", p))
			}
		}()
		run()
	}()
	return r
}

// validator is an OPEN whose bounds can be checked once parsed.
type validator interface{ validate() error }

func parseOp(payload []byte, v validator) error {
	if err := decodeStrict(payload, v); err != nil {
		return badRequest("%v", err)
	}
	return v.validate()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
