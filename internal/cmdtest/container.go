package cmdtest

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SimContainer is a simulator's container that StartSim runs; it is
// removed when the test ends.
type SimContainer struct {
	t  testing.TB
	ID string
}

// StartSim is the image test's start of a simulator: it skips under -short
// or without a Docker Engine (fails without one under
// VRAMCALC_REQUIRE_DOCKER=1), builds cmd/<dir>'s image (SimImageFor), and
// runs it detached with the container ports published on free loopback
// ports, the label vramcalc.test=<dir>, the environment env ("K=V") and
// the container arguments args.
func StartSim(t testing.TB, dir string, ports []int, env []string, args ...string) *SimContainer {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the Docker image test")
	}
	DockerCLI(t)
	image := SimImageFor(t, dir)
	run := []string{"run", "-d", "--label", "vramcalc.test=" + dir}
	for _, p := range ports {
		run = append(run, "-p", "127.0.0.1::"+strconv.Itoa(p))
	}
	for _, e := range env {
		run = append(run, "-e", e)
	}
	c := &SimContainer{t: t}
	c.ID = c.Docker(append(append(run, image), args...)...)
	// Before the image's removal (cleanups run last first).
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", c.ID).Run() })
	return c
}

// DockerCLI skips the test when `docker info` gets no answer from an
// engine, and fails it then under VRAMCALC_REQUIRE_DOCKER=1 (as Docker
// does for the API client).
func DockerCLI(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err == nil {
		return
	}
	if os.Getenv("VRAMCALC_REQUIRE_DOCKER") == "1" {
		t.Fatalf("no Docker Engine answers (docker info: %v: %s), and CI requires one", err, strings.TrimSpace(string(out)))
	}
	t.Skipf("no Docker Engine answers (docker info: %v: %s); skipping the image test", err, strings.TrimSpace(string(out)))
}

// Docker runs the docker CLI (a minute at most) and returns its trimmed
// output; an error fails the test.
func (c *SimContainer) Docker(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// URL is "http://127.0.0.1:N" of the container's port.
func (c *SimContainer) URL(port int) string {
	c.t.Helper()
	// "127.0.0.1:49153", possibly followed by an IPv6 line.
	return "http://" + strings.SplitN(c.Docker("port", c.ID, strconv.Itoa(port)+"/tcp"), "\n", 2)[0]
}

// Logs is what the container printed so far.
func (c *SimContainer) Logs() string {
	c.t.Helper()
	return c.Docker("logs", c.ID)
}

// WaitOK polls GET url until it answers 200, failing the test with the
// logs after within.
func (c *SimContainer) WaitOK(url string, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if status, _, err := HTTPGet(url); err == nil && status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no 200 from %s after %s; logs:\n%s", url, within, c.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop is `docker stop` (SIGTERM, then 10 s), and fails the test unless
// the container exits 0.
func (c *SimContainer) Stop() {
	c.t.Helper()
	c.Docker("stop", "-t", "10", c.ID)
	if code := c.Docker("inspect", "-f", "{{.State.ExitCode}}", c.ID); code != "0" {
		c.t.Errorf("exit code after docker stop %s, want 0", code)
	}
}

// HTTPGet is a GET of two seconds at most that returns its error instead
// of failing the test.
func HTTPGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
