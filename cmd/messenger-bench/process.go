package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// bridgePackage is what build builds.
const bridgePackage = "github.com/messenger-bridge/messenger-bridge/cmd/messenger-bridge"

// stopTimeout bounds a clean stop: the bridge itself lets deliveries in
// flight run on for up to 10 s after SIGTERM (README, "Delivery guarantees").
const stopTimeout = 20 * time.Second

// userHZ is the unit of CPU times in /proc/<pid>/stat: USER_HZ, which Linux
// fixes at 100 for user space on every architecture (proc(5)).
const userHZ = 100

// build builds the bridge from the module in the current directory into
// dir, as the Dockerfile builds it: static, without symbol tables.
func build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "messenger-bridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "timetzdata", "-ldflags", "-s -w", "-o", bin, bridgePackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %w (run messenger-bench from the repository, or give -bridge)\n%s", bridgePackage, err, out)
	}
	return bin, nil
}

// process is a running bridge.
type process struct {
	cmd    *exec.Cmd
	log    string        // the bridge's stderr and stdout
	exited chan struct{} // closed once it exited; err is then set
	err    error
}

// startBridge starts bin with exactly env, its output going to the file log.
func startBridge(bin string, env []string, log string) (*process, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	cmd := exec.Command(bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	// The bridge stops cleanly if messenger-bench dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the bridge %s: %w", bin, err)
	}
	p := &process{cmd: cmd, log: log, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop asks the bridge to stop, as a service manager would, and waits for
// it; a bridge still running after stopTimeout is killed. It reports a
// bridge that did not exit with status 0.
func (p *process) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails only if it already exited
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("the bridge did not stop within %s of SIGTERM and was killed", stopTimeout)
	}
	if p.err != nil {
		return fmt.Errorf("the bridge stopped with %w", p.err)
	}
	return nil
}

// tailLines is how much of the bridge's log tail shows.
const tailLines = 20

// tail writes the end of the bridge's log to w, to show why it failed.
func (p *process) tail(w io.Writer) {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	fmt.Fprintln(w, "messenger-bench: the bridge's last log lines:")
	for _, l := range lines[max(0, len(lines)-tailLines):] {
		fmt.Fprintln(w, "  "+l)
	}
}

// memory returns the resident set size of pid and its high-water mark
// (VmRSS and VmHWM in /proc/<pid>/status), in bytes.
func memory(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read the bridge's memory: %w", err)
	}
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		key, value, _ := strings.Cut(s.Text(), ":")
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &hwm
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
		}
		*dst = kb << 10
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status holds no VmRSS or VmHWM", pid)
	}
	return rss, hwm, nil
}

// cpuTime returns the user and system CPU time pid has used.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read the bridge's CPU time: %w", err)
	}
	// The command name, in parentheses, may hold spaces; fields count from after it.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("/proc/<pid>/stat: no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	// utime and stime are fields 14 and 15 of proc(5); f[0] is field 3.
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	var ticks int64
	for _, field := range []string{f[utime], f[stime]} {
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
