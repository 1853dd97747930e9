// Command spawnerd is the in-worker daemon of workers-spawner: it dials the runtime's socket
// and runs commands, PTYs, file operations and watches for it (docs/daemon-protocol.md).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

const version = "spawnerd 1.0.0"

// defaultSocket is where the runtime's directory is mounted read-only.
const defaultSocket = "/run/workers-spawner/daemon/d.sock"

func main() {
	socket := flag.String("socket", envOr("SPAWNERD_SOCKET", defaultSocket), "the runtime's socket (env SPAWNERD_SOCKET)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	if err := checkUnprivileged(); err != nil {
		logf("%v", err)
		os.Exit(1)
	}
	secret := os.Getenv("SPAWNERD_SECRET")
	// Nothing the daemon starts may inherit its own settings, the secret least of all.
	scrubEnv()
	if secret == "" {
		logf("SPAWNERD_SECRET is not set")
		os.Exit(1)
	}
	// A small heap, collected early: idle memory counts against every worker.
	debug.SetGCPercent(50)
	debug.SetMemoryLimit(64 << 20)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	logf("%s, pid %d, uid %d, dialing %s", version, os.Getpid(), os.Getuid(), *socket)
	newDaemon(ctx, defaultConfig(*socket, secret)).run()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// scrubEnv removes SPAWNERD_* from the environment.
func scrubEnv() {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "SPAWNERD_") {
			_ = os.Unsetenv(name)
		}
	}
}

// checkUnprivileged refuses root and any effective capability: the daemon acts for the
// worker user and must never be able to do more than it.
func checkUnprivileged() error {
	if os.Getuid() == 0 || os.Geteuid() == 0 {
		return fmt.Errorf("refusing to run as root (uid %d, euid %d); run as the worker user", os.Getuid(), os.Geteuid())
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok && strings.Trim(strings.TrimSpace(v), "0") != "" {
			return fmt.Errorf("refusing to run with capabilities (CapEff %s)", strings.TrimSpace(v))
		}
	}
	return nil
}
