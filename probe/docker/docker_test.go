package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"github.com/vramcalc/vramcalc/probe"
)

// fakeEngine is a Docker Engine API server on a unix socket: handlers are
// registered per route ("POST /containers/create", without the version
// prefix) and every request is recorded with its body.
type fakeEngine struct {
	t    *testing.T
	mux  *http.ServeMux
	host string

	mu   sync.Mutex
	reqs []fakeRequest
}

type fakeRequest struct {
	Method, Path string
	Query        url.Values
	Body         []byte
}

func newFakeEngine(t *testing.T) *fakeEngine {
	t.Helper()
	f := &fakeEngine{t: t, mux: http.NewServeMux()}
	sock := filepath.Join(t.TempDir(), "d.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	f.host = "unix://" + sock
	f.mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "OK") })
	return f
}

func (f *fakeEngine) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	// Strip the negotiated version: /v1.41/containers/create.
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/v"); ok {
		if i := strings.IndexByte(rest, '/'); i > 0 {
			if ver := rest[:i]; ver != "1.41" {
				f.t.Errorf("%s %s: API version %s, want the negotiated 1.41", r.Method, p, ver)
			}
			p = rest[i:]
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, fakeRequest{Method: r.Method, Path: p, Query: r.URL.Query(), Body: body})
	f.mu.Unlock()
	w.Header().Set("Api-Version", "1.41")
	w.Header().Set("Server", "Docker/20.10.24 (linux)")
	r2 := r.Clone(r.Context())
	r2.URL.Path = p
	r2.Body = io.NopCloser(bytes.NewReader(body))
	h, pattern := f.mux.Handler(r2)
	if pattern == "" {
		f.t.Errorf("fake engine: unexpected %s %s", r.Method, p)
		engineError(w, http.StatusNotImplemented, "not in the fake")
		return
	}
	h.ServeHTTP(w, r2)
}

func (f *fakeEngine) handle(pattern string, h http.HandlerFunc) { f.mux.HandleFunc(pattern, h) }

// request returns the last recorded request for method and path.
func (f *fakeEngine) request(method, path string) (fakeRequest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.reqs) - 1; i >= 0; i-- {
		if r := f.reqs[i]; r.Method == method && r.Path == path {
			return r, true
		}
	}
	return fakeRequest{}, false
}

func (f *fakeEngine) docker(t *testing.T) *Runtime {
	t.Helper()
	t.Setenv("DOCKER_API_VERSION", "") // negotiate, as in production
	d, err := New(WithHost(f.host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func engineError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// frame is one multiplexed log frame: [stream,0,0,0,size BE u32] payload.
func frame(stream byte, payload string) []byte {
	h := make([]byte, 8, 8+len(payload))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

// errorChain returns the messages of err and of everything it wraps.
func errorChain(err error) []string {
	if err == nil {
		return nil
	}
	out := []string{err.Error()}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, errorChain(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, errorChain(e)...)
		}
	}
	return out
}

const testSecret = "hf_TopSecretTokenValue42"

func testSpec() probe.ContainerSpec {
	return probe.ContainerSpec{
		Name:      "vramcalc-r1-1",
		Image:     "ghcr.io/huggingface/text-generation-inference:3.3.6",
		Args:      []string{"--model-id", "/data/model", "--port", "80"},
		Env:       []string{"HF_HUB_OFFLINE=1"},
		SecretEnv: map[string]string{"HF_TOKEN": testSecret},
		Labels:    map[string]string{probe.RunLabel: "r1"},
		Ports:     []probe.PortBinding{{ContainerPort: 80}},
		ShmSize:   1 << 30,
		Mounts:    []probe.Mount{{Source: "/models/x", Target: "/data", ReadOnly: true}},
	}
}

// startEngine answers create, start and inspect for one container "c1"
// whose port 80 is bound to 127.0.0.1:49153.
func startEngine(t *testing.T) *fakeEngine {
	f := newFakeEngine(t)
	f.handle("POST /containers/create", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, map[string]any{"Id": "c1", "Warnings": []string{}})
	})
	f.handle("POST /containers/c1/start", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	f.handle("GET /containers/c1/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"Id": "c1", "Name": "/vramcalc-r1-1",
			"State": map[string]any{"Status": "running", "Running": true},
			"NetworkSettings": map[string]any{"Ports": map[string]any{
				"80/tcp": []map[string]string{{"HostIp": "127.0.0.1", "HostPort": "49153"}},
			}},
		})
	})
	return f
}

// createBody decodes the body of the last create request.
func createBody(t *testing.T, f *fakeEngine) (query url.Values, body struct {
	Image        string
	Cmd          []string
	Env          []string
	Labels       map[string]string
	ExposedPorts map[string]any
	HostConfig   struct {
		ShmSize      int64
		PortBindings map[string][]struct{ HostIp, HostPort string }
		Mounts       []struct {
			Type, Source, Target string
			ReadOnly             bool
		}
		DeviceRequests json.RawMessage
	}
}) {
	t.Helper()
	r, ok := f.request("POST", "/containers/create")
	if !ok {
		t.Fatal("no create request")
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("create body: %v\n%s", err, r.Body)
	}
	return r.Query, body
}

func TestDockerStartRequest(t *testing.T) {
	f := startEngine(t)
	d := f.docker(t)
	c, err := d.Start(context.Background(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	want := probe.Container{ID: "c1", Name: "vramcalc-r1-1", Image: testSpec().Image, Labels: map[string]string{probe.RunLabel: "r1"},
		Ports: map[int]int{80: 49153}, Running: true}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Start = %+v, want %+v", c, want)
	}
	q, b := createBody(t, f)
	if q.Get("name") != "vramcalc-r1-1" {
		t.Errorf("name = %q", q.Get("name"))
	}
	if b.Image != testSpec().Image || !reflect.DeepEqual(b.Cmd, testSpec().Args) {
		t.Errorf("image, cmd = %q, %q", b.Image, b.Cmd)
	}
	if wantEnv := []string{"HF_HUB_OFFLINE=1", "HF_TOKEN=" + testSecret}; !reflect.DeepEqual(b.Env, wantEnv) {
		t.Errorf("Env = %q, want %q (the secret must reach the engine)", b.Env, wantEnv)
	}
	if b.Labels[probe.RunLabel] != "r1" {
		t.Errorf("Labels = %v", b.Labels)
	}
	if _, ok := b.ExposedPorts["80/tcp"]; !ok {
		t.Errorf("ExposedPorts = %v", b.ExposedPorts)
	}
	pb := b.HostConfig.PortBindings["80/tcp"]
	if len(pb) != 1 || pb[0].HostIp != "127.0.0.1" || pb[0].HostPort != "" {
		t.Errorf("PortBindings = %+v, want one on 127.0.0.1 with an engine-chosen port", b.HostConfig.PortBindings)
	}
	if b.HostConfig.ShmSize != 1<<30 {
		t.Errorf("ShmSize = %d", b.HostConfig.ShmSize)
	}
	if m := b.HostConfig.Mounts; len(m) != 1 || m[0].Type != "bind" || m[0].Source != "/models/x" || m[0].Target != "/data" || !m[0].ReadOnly {
		t.Errorf("Mounts = %+v", m)
	}
	if dr := string(b.HostConfig.DeviceRequests); dr != "" && dr != "null" {
		t.Errorf("DeviceRequests = %s, want none for nil GPUIDs", dr)
	}
	if _, ok := f.request("POST", "/containers/c1/start"); !ok {
		t.Error("container not started")
	}
}

// TestDockerStartHostPort: a host port and a loopback address other than
// 127.0.0.1 reach the engine as given; an address that is not loopback is
// refused before anything is created.
func TestDockerStartHostPort(t *testing.T) {
	f := startEngine(t)
	spec := testSpec()
	spec.Ports = []probe.PortBinding{{ContainerPort: 80, HostPort: 8081}, {ContainerPort: 9400, HostPort: 9500, HostIP: netip.MustParseAddr("127.0.0.2")},
		{ContainerPort: 9401, HostIP: netip.IPv6Loopback()}}
	if _, err := f.docker(t).Start(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	_, b := createBody(t, f)
	want := map[string][]struct{ HostIp, HostPort string }{
		"80/tcp": {{"127.0.0.1", "8081"}}, "9400/tcp": {{"127.0.0.2", "9500"}}, "9401/tcp": {{"::1", ""}},
	}
	if !reflect.DeepEqual(b.HostConfig.PortBindings, want) {
		t.Errorf("PortBindings = %+v, want %+v", b.HostConfig.PortBindings, want)
	}
	f = startEngine(t)
	spec.Ports = []probe.PortBinding{{ContainerPort: 80, HostPort: 8081, HostIP: netip.IPv4Unspecified()}}
	_, err := f.docker(t).Start(context.Background(), spec)
	if err == nil || err.Error() != "docker: start vramcalc-r1-1: port binding 0.0.0.0:8081:80: 0.0.0.0 is not a loopback address" {
		t.Errorf("Start on 0.0.0.0 = %v", err)
	}
	if _, created := f.request("POST", "/containers/create"); created {
		t.Error("a container was created for a binding on 0.0.0.0")
	}
}

func TestDockerStartGPU(t *testing.T) {
	type req struct {
		Driver       string
		Count        int
		DeviceIDs    []string
		Capabilities [][]string
	}
	for _, tc := range []struct {
		name string
		ids  []string
		want []req
	}{
		{"nil", nil, nil},
		{"all", []string{"all"}, []req{{Driver: "nvidia", Count: -1, Capabilities: [][]string{{"gpu"}}}}},
		{"ids", []string{"0", "GPU-5e2c"}, []req{{Driver: "nvidia", DeviceIDs: []string{"0", "GPU-5e2c"}, Capabilities: [][]string{{"gpu"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startEngine(t)
			spec := testSpec()
			spec.GPUIDs = tc.ids
			if _, err := f.docker(t).Start(context.Background(), spec); err != nil {
				t.Fatal(err)
			}
			_, b := createBody(t, f)
			var got []req
			if raw := b.HostConfig.DeviceRequests; len(raw) > 0 {
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DeviceRequests = %s, want %+v", b.HostConfig.DeviceRequests, tc.want)
			}
		})
	}
}

// The engine may echo the request (an invalid env entry, a failing
// entrypoint); the secret must not reach the caller by any error.
func TestDockerStartErrorsKeepSecret(t *testing.T) {
	for _, tc := range []struct {
		name       string
		create     int // status of create (201: succeeds)
		start      int // status of start (204: succeeds)
		msg        string
		wantIs     error
		wantRemove bool
	}{
		{"create echoes env", 400, 0, "invalid environment variable: HF_TOKEN=" + testSecret, nil, false},
		{"no such image", 404, 0, "No such image: ghcr.io/huggingface/text-generation-inference:3.3.6", probe.ErrImageNotFound, false},
		{"start fails", 201, 500, `could not select device driver "nvidia" with capabilities: [[gpu]]`, nil, true},
		{"start echoes env", 201, 500, "exec failed: env HF_TOKEN=" + testSecret, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.handle("POST /containers/create", func(w http.ResponseWriter, r *http.Request) {
				if tc.create != 201 {
					engineError(w, tc.create, tc.msg)
					return
				}
				writeJSON(w, 201, map[string]any{"Id": "c1"})
			})
			f.handle("POST /containers/c1/start", func(w http.ResponseWriter, r *http.Request) { engineError(w, tc.start, tc.msg) })
			f.handle("DELETE /containers/c1", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			_, err := f.docker(t).Start(context.Background(), testSpec())
			if err == nil {
				t.Fatal("Start succeeded")
			}
			for _, m := range errorChain(err) {
				if strings.Contains(m, testSecret) {
					t.Errorf("secret in error chain: %q", m)
				}
			}
			if !strings.HasPrefix(err.Error(), "docker: start vramcalc-r1-1: ") {
				t.Errorf("error = %q, want the probe: start <name>: prefix", err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q is not %v", err, tc.wantIs)
			}
			rm, removed := f.request("DELETE", "/containers/c1")
			if removed != tc.wantRemove {
				t.Errorf("removed = %v, want %v", removed, tc.wantRemove)
			}
			if removed && (rm.Query.Get("force") != "1" || rm.Query.Get("v") != "1") {
				t.Errorf("remove query = %v, want force and v", rm.Query)
			}
		})
	}
}

func TestDockerLogsDemux(t *testing.T) {
	f := newFakeEngine(t)
	f.handle("GET /containers/c1/logs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
		w.WriteHeader(http.StatusOK)
		w.Write(frame(1, "starting shard 0\n"))
		w.Write(frame(2, "warn: no flash attention\n"))
		// A line split over two frames, and a frame holding two lines.
		w.Write(frame(1, "Setting max batch total "))
		w.Write(frame(1, "tokens to 22460\nConnected\n"))
		w.Write(frame(2, ""))
	})
	rc, err := f.docker(t).Logs(context.Background(), "c1", true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	want := "starting shard 0\nwarn: no flash attention\nSetting max batch total tokens to 22460\nConnected\n"
	if string(got) != want {
		t.Errorf("logs = %q, want %q", got, want)
	}
	r, _ := f.request("GET", "/containers/c1/logs")
	for _, k := range []string{"stdout", "stderr", "follow"} {
		if r.Query.Get(k) != "1" {
			t.Errorf("logs query %s = %q, want 1 (%v)", k, r.Query.Get(k), r.Query)
		}
	}
}

func TestDockerLogsSystemError(t *testing.T) {
	f := newFakeEngine(t)
	f.handle("GET /containers/c1/logs", func(w http.ResponseWriter, r *http.Request) {
		w.Write(frame(1, "line\n"))
		w.Write(frame(3, "log driver failed"))
	})
	rc, err := f.docker(t).Logs(context.Background(), "c1", false)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if string(got) != "line\n" || err == nil || !strings.Contains(err.Error(), "log driver failed") || !strings.HasPrefix(err.Error(), "docker: logs c1: ") {
		t.Errorf("ReadAll = %q, %v; want the line then the system error", got, err)
	}
}

// Following logs ends with io.EOF when the context ends, and Close ends it
// early; neither leaves the handler hanging.
func TestDockerLogsEnd(t *testing.T) {
	for _, how := range []string{"cancel", "close"} {
		t.Run(how, func(t *testing.T) {
			f := newFakeEngine(t)
			done := make(chan struct{})
			f.handle("GET /containers/c1/logs", func(w http.ResponseWriter, r *http.Request) {
				defer close(done)
				w.Write(frame(1, "first\n"))
				w.(http.Flusher).Flush()
				<-r.Context().Done() // a running container: the stream stays open
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rc, err := f.docker(t).Logs(ctx, "c1", true)
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(rc)
			if line, err := br.ReadString('\n'); line != "first\n" || err != nil {
				t.Fatalf("first line = %q, %v", line, err)
			}
			res := make(chan error, 1)
			go func() {
				_, err := io.ReadAll(br)
				res <- err
			}()
			if how == "cancel" {
				cancel()
			} else {
				rc.Close()
			}
			select {
			case err := <-res:
				if how == "cancel" && err != nil {
					t.Errorf("after cancel: %v, want io.EOF", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("log stream still open")
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("engine request still open")
			}
			rc.Close()
		})
	}
}

func TestDockerWaitStop(t *testing.T) {
	f := newFakeEngine(t)
	f.handle("POST /containers/c1/wait", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"StatusCode": 137})
	})
	f.handle("POST /containers/c1/stop", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	d := f.docker(t)
	code, err := d.Wait(context.Background(), "c1")
	if err != nil || code != 137 {
		t.Errorf("Wait = %d, %v; want 137", code, err)
	}
	if r, _ := f.request("POST", "/containers/c1/wait"); r.Query.Get("condition") != "not-running" {
		t.Errorf("wait query = %v", r.Query)
	}
	for _, tc := range []struct {
		timeout time.Duration
		want    string
	}{{10 * time.Second, "10"}, {1500 * time.Millisecond, "2"}, {0, "0"}, {-1, ""}} {
		if err := d.Stop(context.Background(), "c1", tc.timeout); err != nil {
			t.Fatal(err)
		}
		if r, _ := f.request("POST", "/containers/c1/stop"); r.Query.Get("t") != tc.want {
			t.Errorf("Stop(%v): t = %q, want %q", tc.timeout, r.Query.Get("t"), tc.want)
		}
	}
}

func TestDockerWaitContext(t *testing.T) {
	f := newFakeEngine(t)
	f.handle("POST /containers/c1/wait", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := f.docker(t).Wait(ctx, "c1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want a deadline error", err)
	}
}

func TestDockerNotFound(t *testing.T) {
	f := newFakeEngine(t)
	notFound := func(w http.ResponseWriter, r *http.Request) {
		engineError(w, http.StatusNotFound, "No such container: c9")
	}
	for _, p := range []string{"POST /containers/c9/stop", "DELETE /containers/c9", "POST /containers/c9/wait", "GET /containers/c9/logs"} {
		f.handle(p, notFound)
	}
	d := f.docker(t)
	ctx := context.Background()
	_, logsErr := d.Logs(ctx, "c9", true)
	_, waitErr := d.Wait(ctx, "c9")
	for op, err := range map[string]error{
		"stop":   d.Stop(ctx, "c9", time.Second),
		"remove": d.Remove(ctx, "c9"),
		"wait":   waitErr,
		"logs":   logsErr,
	} {
		if !errors.Is(err, probe.ErrNotFound) {
			t.Errorf("%s: %v, want probe.ErrNotFound", op, err)
		}
		if want := "docker: " + op + " c9: container not found: "; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %q, want prefix %q", op, err, want)
		}
	}
}

func TestDockerList(t *testing.T) {
	f := newFakeEngine(t)
	f.handle("GET /containers/json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []map[string]any{
			{"Id": "c1", "Names": []string{"/vramcalc-r1-1"}, "Image": "tgi:3.3.6", "State": "running",
				"Labels": map[string]string{probe.RunLabel: "r1"},
				"Ports":  []map[string]any{{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 49153, "Type": "tcp"}}},
			{"Id": "c2", "Names": []string{"/vramcalc-r1-2"}, "Image": "tgi:3.3.6", "State": "exited",
				"Labels": map[string]string{probe.RunLabel: "r1"}, "Ports": []map[string]any{{"PrivatePort": 80, "Type": "tcp"}}},
		})
	})
	got, err := f.docker(t).List(context.Background(), map[string]string{probe.RunLabel: "r1", "b": "2"})
	if err != nil {
		t.Fatal(err)
	}
	want := []probe.Container{
		{ID: "c1", Name: "vramcalc-r1-1", Image: "tgi:3.3.6", Labels: map[string]string{probe.RunLabel: "r1"}, Ports: map[int]int{80: 49153}, Running: true},
		{ID: "c2", Name: "vramcalc-r1-2", Image: "tgi:3.3.6", Labels: map[string]string{probe.RunLabel: "r1"}, Ports: map[int]int{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %+v\nwant %+v", got, want)
	}
	r, _ := f.request("GET", "/containers/json")
	var filters map[string]map[string]bool
	if err := json.Unmarshal([]byte(r.Query.Get("filters")), &filters); err != nil {
		t.Fatalf("filters %q: %v", r.Query.Get("filters"), err)
	}
	if wantF := map[string]map[string]bool{"label": {"b=2": true, probe.RunLabel + "=r1": true}}; !reflect.DeepEqual(filters, wantF) || r.Query.Get("all") != "1" {
		t.Errorf("list query = %v", r.Query)
	}
}

func TestDockerImages(t *testing.T) {
	f := newFakeEngine(t)
	f.handle("GET /images/{name...}", func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "missing") {
			engineError(w, http.StatusNotFound, "No such image: missing:1")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"Id": "sha256:abc"})
	})
	f.handle("POST /images/create", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("fromImage") {
		case "docker.io/library/ok":
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.Encode(jsonstream.Message{Status: "Pulling from library/ok", ID: "1"})
			enc.Encode(jsonstream.Message{Status: "Downloading", ID: "a1b2", Progress: &jsonstream.Progress{Current: 512, Total: 1024}})
			enc.Encode(jsonstream.Message{Status: "Status: Downloaded newer image for ok:1"})
		case "docker.io/library/instream":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(jsonstream.Message{Error: &jsonstream.Error{Message: "manifest unknown"}})
		case "docker.io/library/norepo":
			engineError(w, http.StatusNotFound, "pull access denied for norepo, repository does not exist or may require 'docker login'")
		default:
			engineError(w, http.StatusInternalServerError, `Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host`)
		}
	})
	d := f.docker(t)
	ctx := context.Background()
	if ok, err := d.ImageExists(ctx, "present:1"); !ok || err != nil {
		t.Errorf("ImageExists(present) = %v, %v", ok, err)
	}
	if ok, err := d.ImageExists(ctx, "missing:1"); ok || err != nil {
		t.Errorf("ImageExists(missing) = %v, %v", ok, err)
	}
	var progress bytes.Buffer
	if err := d.Pull(ctx, "ok:1", &progress); err != nil {
		t.Fatal(err)
	}
	if want := "1: Pulling from library/ok\na1b2: Downloading 512/1024\nStatus: Downloaded newer image for ok:1\n"; progress.String() != want {
		t.Errorf("progress = %q, want %q", progress.String(), want)
	}
	for _, image := range []string{"instream:1", "norepo:1", "offline:1", "Not A Reference"} {
		err := d.Pull(ctx, image, nil)
		if !errors.Is(err, probe.ErrImageNotFound) || !strings.HasPrefix(err.Error(), "docker: pull "+image+": image not found: ") {
			t.Errorf("Pull(%s) = %v, want probe.ErrImageNotFound", image, err)
		}
	}
}

func TestDockerNoEngine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "tcp://" + ln.Addr().String()
	ln.Close()
	for _, host := range []string{"unix://" + filepath.Join(t.TempDir(), "absent.sock"), refused} {
		d, err := New(WithHost(host))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, pingErr := d.Ping(ctx)
		_, existsErr := d.ImageExists(ctx, "x:1")
		_, startErr := d.Start(ctx, testSpec())
		_, listErr := d.List(ctx, nil)
		for op, err := range map[string]error{
			"ping": pingErr, "image": existsErr, "start": startErr, "list": listErr,
			"pull": d.Pull(ctx, "x:1", nil), "remove": d.Remove(ctx, "c1"),
		} {
			if !errors.Is(err, probe.ErrNoEngine) {
				t.Errorf("%s on %s: %v, want probe.ErrNoEngine", op, host, err)
			}
			if errors.Is(err, probe.ErrImageNotFound) || errors.Is(err, probe.ErrNotFound) {
				t.Errorf("%s on %s: %v also matches a not-found", op, host, err)
			}
			if err != nil && strings.Contains(err.Error(), testSecret) {
				t.Errorf("%s: secret in %q", op, err)
			}
		}
		d.Close()
	}
}

// testProgram is the container of the integration test: it prints a line,
// answers "ok" to any HTTP request on :8080 and exits 3 on SIGTERM. It
// speaks HTTP by hand because net/http doubles a cold build (10 s vs 5 s).
const testProgram = `package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	ln, err := net.Listen("tcp", ":8080")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					if l, err := r.ReadString('\n'); err != nil || l == "\r\n" {
						break
					}
				}
				fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			}()
		}
	}()
	fmt.Printf("probe-test: listening on :8080 env=%s secret-len=%d\n", os.Getenv("PROBE_TEST_ENV"), len(os.Getenv("PROBE_TEST_SECRET")))
	fmt.Fprintln(os.Stderr, "probe-test: stderr line")
	<-sig
	fmt.Println("probe-test: SIGTERM")
	os.Exit(3)
}
`

// testImageTag is a tag of this test alone, so that another copy of the
// suite on the same engine neither shares nor removes it.
func testImageTag() string {
	return fmt.Sprintf("vramcalc/probe-test:%d-%d", os.Getpid(), time.Now().UnixNano())
}

// buildTestImage compiles testProgram statically and builds it FROM
// scratch through the Engine API (no docker CLI, no registry).
func buildTestImage(t *testing.T, ctx context.Context, d *Runtime, tag string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(testProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", "app", "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY app /app\nEXPOSE 8080\nENTRYPOINT [\"/app\"]\n")},
		{"app", 0o755, bin},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := d.cli.ImageBuild(ctx, &tarball, client.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		t.Fatalf("image build: %v", err)
	}
	defer res.Body.Close()
	var out strings.Builder
	dec := json.NewDecoder(res.Body)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("image build stream: %v", err)
		}
		if m.Error != nil {
			t.Fatalf("image build: %s\n%s", m.Error.Message, out.String())
		}
		out.WriteString(m.Stream)
	}
}

// TestDockerEngine runs the adapter against the real engine when one
// answers: build, start with a run label and a published port, read the
// log, GET the port, stop, wait, remove, list.
func TestDockerEngine(t *testing.T) {
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pctx, pcancel := context.WithTimeout(context.Background(), 3*time.Second)
	version, err := d.Ping(pctx)
	pcancel()
	if err != nil {
		if os.Getenv("VRAMCALC_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker engine answers (%v), and CI requires one", err)
		}
		t.Skipf("no Docker engine answers (%v): the engine integration test runs only where one does", err)
	}
	t.Logf("engine API %s", version)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t0 := time.Now()
	testImage := testImageTag()
	buildTestImage(t, ctx, d, testImage)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := d.cli.ImageRemove(ctx, testImage, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Logf("remove %s: %v", testImage, err)
		}
	})
	t.Logf("image built in %v", time.Since(t0).Round(time.Millisecond))
	if ok, err := d.ImageExists(ctx, testImage); !ok || err != nil {
		t.Fatalf("ImageExists(%s) = %v, %v", testImage, ok, err)
	}
	if ok, err := d.ImageExists(ctx, "vramcalc/absent-image:none"); ok || err != nil {
		t.Errorf("ImageExists(absent) = %v, %v", ok, err)
	}
	if err := d.Pull(ctx, "vramcalc/absent-image:none", nil); !errors.Is(err, probe.ErrImageNotFound) {
		t.Errorf("Pull(absent) = %v, want probe.ErrImageNotFound", err)
	}

	run := fmt.Sprintf("probe-test-%d", time.Now().UnixNano())
	labels := map[string]string{probe.RunLabel: run}
	const secret = "s3cr3t-value"
	spec := probe.ContainerSpec{
		Name: "vramcalc-" + run, Image: testImage, Labels: labels,
		Env: []string{"PROBE_TEST_ENV=visible"}, SecretEnv: map[string]string{"PROBE_TEST_SECRET": secret},
		Ports: []probe.PortBinding{{ContainerPort: 8080}}, ShmSize: 64 << 20,
	}
	t.Cleanup(func() {
		// Whatever failed, leave no container behind.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cs, _ := d.List(ctx, labels)
		for _, c := range cs {
			d.Remove(ctx, c.ID)
		}
	})
	t1 := time.Now()
	c, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started %s in %v, ports %v", c.Name, time.Since(t1).Round(time.Millisecond), c.Ports)
	if c.Name != spec.Name || !c.Running || c.Labels[probe.RunLabel] != run {
		t.Errorf("Start = %+v", c)
	}
	host := c.Ports[8080]
	if host == 0 {
		t.Fatalf("no host port for 8080: %v", c.Ports)
	}

	// The log and wait streams outlive their runtime's call deadline (3 s):
	// only the engine's first answer is bounded.
	streams, err := New(WithCallTimeout(3 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer streams.Close()
	type exit struct {
		code int
		err  error
	}
	waited := make(chan exit, 1)
	go func() {
		code, err := streams.Wait(ctx, c.ID)
		waited <- exit{code, err}
	}()
	rc, err := streams.Logs(ctx, c.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(rc)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// stdout and stderr are copied by separate engine goroutines, so the
	// stderr line may come first.
	var seen []string
	for len(seen) == 0 || !strings.HasPrefix(seen[len(seen)-1], "probe-test: listening") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("log stream ended after %q", seen)
			}
			seen = append(seen, l)
		case <-ctx.Done():
			t.Fatalf("no listening line in %q", seen)
		}
	}

	var body string
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", host))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET 127.0.0.1:%d: %v", host, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "ok" {
		t.Errorf("GET = %q, want ok", body)
	}

	time.Sleep(time.Until(t1.Add(4 * time.Second)))
	if err := d.Stop(ctx, c.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if w := <-waited; w.err != nil || w.code != 3 {
		t.Errorf("Wait from before the deadline = %d, %v; want exit code 3 from SIGTERM", w.code, w.err)
	}
	code, err := d.Wait(ctx, c.ID)
	if err != nil || code != 3 {
		t.Errorf("Wait = %d, %v; want exit code 3 from SIGTERM", code, err)
	}
	for l := range lines { // the follow stream ends with the container
		seen = append(seen, l)
	}
	slices.Sort(seen)
	if want := []string{"probe-test: SIGTERM", "probe-test: listening on :8080 env=visible secret-len=12", "probe-test: stderr line"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("log lines %q, want %q", seen, want)
	}

	cs, err := d.List(ctx, labels)
	if err != nil || len(cs) != 1 || cs[0].ID != c.ID || cs[0].Running {
		t.Errorf("List before remove = %+v, %v; want the stopped container", cs, err)
	}
	if err := d.Remove(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(ctx, c.ID); !errors.Is(err, probe.ErrNotFound) {
		t.Errorf("second Remove = %v, want probe.ErrNotFound", err)
	}
	if cs, err := d.List(ctx, labels); err != nil || len(cs) != 0 {
		t.Errorf("List after remove = %+v, %v; want none", cs, err)
	}
}
