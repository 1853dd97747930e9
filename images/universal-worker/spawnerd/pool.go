package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// config is what the daemon needs to reach its runtime; the pool's figures are those of
// docs/daemon-protocol.md ("Connections") and only tests change them.
type config struct {
	socket           string
	secret           string
	ahead            int           // idle connections kept dialed ahead
	maxConns         int           // connections at most, busy or not
	keepIdle         int           // idle connections never closed for idleness
	idleClose        time.Duration // after this long idle, connections beyond keepIdle close
	handshakeTimeout time.Duration
	backoffMin       time.Duration
	backoffMax       time.Duration
}

func defaultConfig(socket, secret string) config {
	return config{
		socket:           socket,
		secret:           secret,
		ahead:            2,
		maxConns:         256,
		keepIdle:         8,
		idleClose:        30 * time.Second,
		handshakeTimeout: 10 * time.Second,
		backoffMin:       20 * time.Millisecond,
		backoffMax:       time.Second,
	}
}

// daemon is one running spawnerd: its connection pool and the state requests share (PTY
// sessions, watches, running commands).
type daemon struct {
	cfg config
	ctx context.Context

	mu      sync.Mutex
	idle    int // handshaken connections waiting for an OPEN
	dialing int // 0 or 1: the dialer works one connection at a time
	total   int
	conns   map[*conn]struct{}
	wake    chan struct{}

	ptys      ptyRegistry
	watches   limiter
	watchDirs int // directories one watch follows at most
	execs     execRegistry
}

func newDaemon(ctx context.Context, cfg config) *daemon {
	d := &daemon{cfg: cfg, ctx: ctx, conns: map[*conn]struct{}{}, wake: make(chan struct{}, 1)}
	d.ptys.init()
	d.watches.max = maxWatches
	d.watchDirs = maxWatchDirs
	d.execs.init()
	return d
}

// poke asks the dialer to look at the pool again.
func (d *daemon) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run dials and serves until ctx ends, then closes every connection and kills what its
// requests started.
func (d *daemon) run() {
	backoff := d.cfg.backoffMin
	down := false
	for {
		d.mu.Lock()
		need := d.idle+d.dialing < d.cfg.ahead && d.total < d.cfg.maxConns
		if need {
			d.dialing++
			d.total++
		}
		d.mu.Unlock()
		if !need {
			select {
			case <-d.wake:
				continue
			case <-d.ctx.Done():
				d.shutdown()
				return
			}
		}
		c, err := d.connect()
		d.mu.Lock()
		d.dialing--
		if err != nil {
			d.total--
		} else {
			d.idle++
			d.conns[c] = struct{}{}
		}
		d.mu.Unlock()
		if err != nil {
			if d.ctx.Err() != nil {
				d.shutdown()
				return
			}
			if !down {
				down = true
				logf("runtime not answering (%v); retrying", err)
			}
			select {
			case <-time.After(backoff):
			case <-d.ctx.Done():
			}
			backoff = min(backoff*2, d.cfg.backoffMax)
			continue
		}
		backoff = d.cfg.backoffMin
		if down {
			down = false
			logf("connected to the runtime")
		}
		go c.serve()
	}
}

// logf writes one line to stderr (the container's log), named, so that the entrypoint needs
// no process of its own to prefix it.
var logf = func(format string, a ...any) { fmt.Fprintf(os.Stderr, "spawnerd: "+format+"\n", a...) }

func (d *daemon) shutdown() {
	d.mu.Lock()
	for c := range d.conns {
		_ = c.nc.Close()
	}
	d.mu.Unlock()
	d.ptys.killAll()
	d.execs.killAll()
}

type helloMsg struct {
	V       int    `json:"v"`
	Secret  string `json:"secret"`
	Pid     int    `json:"pid"`
	Version string `json:"version"`
}

// connect dials the runtime's socket and shakes hands: HELLO out, WELCOME back.
func (d *daemon) connect() (*conn, error) {
	var dialer net.Dialer
	nc, err := dialer.DialContext(d.ctx, "unix", d.cfg.socket)
	if err != nil {
		return nil, err
	}
	// Stopping the daemon interrupts a handshake under way.
	stop := context.AfterFunc(d.ctx, func() { nc.Close() })
	defer stop()
	c := &conn{d: d, nc: nc, w: frameWriter{c: nc}}
	hello, _ := json.Marshal(helloMsg{V: 1, Secret: d.cfg.secret, Pid: os.Getpid(), Version: version})
	_ = nc.SetDeadline(time.Now().Add(d.cfg.handshakeTimeout))
	if err := c.w.write(tHello, hello); err != nil {
		_ = nc.Close()
		return nil, err
	}
	typ, payload, err := readFrame(nc)
	if err == nil && typ != tWelcome {
		err = fmt.Errorf("%w: frame %d before WELCOME", errFrame, typ)
	}
	if err == nil {
		var w struct {
			V int `json:"v"`
		}
		if json.Unmarshal(payload, &w) != nil || w.V != 1 {
			err = errors.New("bad WELCOME")
		}
	}
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}
