// Package docker is probe's Runtime over the Docker Engine API
// (github.com/moby/moby/client). It lives apart from probe so that probe,
// and every package that only reads observations, does not pull in the
// Docker SDK and its dependencies (containerd, opencontainers, otel).
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/vramcalc/vramcalc/probe"
)

// Runtime is the probe.Runtime over the Docker Engine API (moby/moby/client). It
// negotiates the API version on its first request, so engines from API 1.40
// (Docker 19.03) on work; Docker 20.10 speaks 1.41.
//
// Containers it starts have no TTY, so their logs are multiplexed and Logs
// demultiplexes them. It never prints; engine errors come back wrapped with
// the container or image they concern.
//
// Every call has a deadline (WithCallTimeout, default DefaultCallTimeout):
// an engine that takes the request and never answers makes it return an
// error wrapping probe.ErrEngineTimeout (and probe.ErrNoEngine). Pull, Logs
// and Wait are bounded until the engine answers; the stream that follows
// runs as long as ctx does.
type Runtime struct {
	cli     *client.Client
	timeout time.Duration
}

// DefaultCallTimeout bounds each Engine API call: far above what a working
// engine takes to create, start, stop or remove a container, or to start
// answering a pull.
const DefaultCallTimeout = 2 * time.Minute

var _ probe.Runtime = (*Runtime)(nil)

// Option configures New.
type Option func(*options)

type options struct {
	host    string
	timeout time.Duration
}

// WithCallTimeout sets the deadline of each call (DefaultCallTimeout when
// not positive).
func WithCallTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithHost connects to host ("unix:///var/run/docker.sock",
// "tcp://127.0.0.1:2375") instead of DOCKER_HOST or the default socket.
func WithHost(host string) Option {
	return func(o *options) { o.host = host }
}

// New returns a Runtime configured from the environment (DOCKER_HOST,
// DOCKER_API_VERSION, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY), then opts. It
// does not contact the engine: call Ping for that. Every method reports an
// engine that does not answer as an error wrapping probe.ErrNoEngine.
func New(opts ...Option) (*Runtime, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	copts := []client.Opt{client.FromEnv}
	if o.host != "" {
		copts = append(copts, client.WithHost(o.host))
	}
	cli, err := client.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker: client: %w", err)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultCallTimeout
	}
	return &Runtime{cli: cli, timeout: o.timeout}, nil
}

// errNoAnswer is the cause of a call context that the Runtime's deadline
// ended (not the caller's).
var errNoAnswer = errors.New("no answer")

// call is the context of one call: ctx bounded by the Runtime's deadline
// (plus extra).
func (d *Runtime) call(ctx context.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d.timeout+extra, errNoAnswer)
}

// stream is the context of a call that returns a stream: ctx, ended by
// the Runtime's deadline unless answered is called first (true when it
// was in time); cancel ends it when the stream is done.
func (d *Runtime) stream(ctx context.Context) (c context.Context, answered func() bool, cancel func()) {
	c, cancelCause := context.WithCancelCause(ctx)
	t := time.AfterFunc(d.timeout, func() { cancelCause(errNoAnswer) })
	return c, t.Stop, func() { t.Stop(); cancelCause(nil) }
}

// fail wraps the error of a call made under c (see wrapErr); when the
// Runtime's deadline ended c, it says that the engine did not answer and
// wraps probe.ErrEngineTimeout and probe.ErrNoEngine instead.
func (d *Runtime) fail(c context.Context, op, subject string, err error, notFound error) error {
	if errors.Is(context.Cause(c), errNoAnswer) {
		return &opError{msg: fmt.Sprintf("docker: %s %s: the engine at %s did not answer within %v", op, subject, d.cli.DaemonHost(), d.timeout),
			errs: []error{probe.ErrEngineTimeout, probe.ErrNoEngine}}
	}
	return wrapErr(op, subject, err, notFound)
}

// Close releases the client's idle connections.
func (d *Runtime) Close() error { return d.cli.Close() }

// Ping checks that the engine answers and negotiates the API version, which
// it returns (e.g. "1.41").
func (d *Runtime) Ping(ctx context.Context) (string, error) {
	c, cancel := d.call(ctx, 0)
	defer cancel()
	if _, err := d.cli.Ping(c, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return "", d.fail(c, "ping", d.cli.DaemonHost(), err, nil)
	}
	return d.cli.ClientVersion(), nil
}

// ImageExists reports whether image is present locally.
func (d *Runtime) ImageExists(ctx context.Context, image string) (bool, error) {
	c, cancel := d.call(ctx, 0)
	defer cancel()
	_, err := d.cli.ImageInspect(c, image)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	}
	return false, d.fail(c, "inspect image", image, err, nil)
}

// Pull fetches image. Each progress message becomes one line on progress
// (if not nil). A reference that does not parse, a registry that cannot be
// reached or refuses, and an image the registry does not have all return an
// error wrapping probe.ErrImageNotFound.
func (d *Runtime) Pull(ctx context.Context, image string, progress io.Writer) error {
	c, answered, cancel := d.stream(ctx)
	defer cancel()
	resp, err := d.cli.ImagePull(c, image, client.ImagePullOptions{})
	if !answered() || err != nil {
		if err == nil {
			resp.Close()
		}
		if errors.Is(context.Cause(c), errNoAnswer) {
			return d.fail(c, "pull", image, err, nil)
		}
		return wrapKind("pull", image, err, probe.ErrImageNotFound)
	}
	defer resp.Close()
	for m, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return wrapErr("pull", image, err, nil)
		}
		if m.Error != nil {
			return wrapKind("pull", image, m.Error, probe.ErrImageNotFound)
		}
		if progress != nil {
			if line := pullLine(m); line != "" {
				if _, err := io.WriteString(progress, line+"\n"); err != nil {
					return fmt.Errorf("docker: pull %s: progress: %w", image, err)
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("docker: pull %s: %w", image, err)
	}
	return nil
}

// pullLine formats one pull message as "<id>: <status> <current>/<total>"
// ("" when it says nothing).
func pullLine(m jsonstream.Message) string {
	text := strings.TrimSpace(m.Status + m.Stream)
	if text == "" {
		return ""
	}
	if m.ID != "" {
		text = m.ID + ": " + text
	}
	if p := m.Progress; p != nil && p.Total > 0 && !p.HideCounts {
		text += " " + strconv.FormatInt(p.Current, 10) + "/" + strconv.FormatInt(p.Total, 10)
	}
	return text
}

// Start creates and starts a container from spec. Env and SecretEnv are
// merged only into the create request; a secret value never appears in a
// returned error. Ports are published on their loopback address (127.0.0.1
// unless HostIP says otherwise; any other address is refused; host port 0:
// the engine picks one) and the returned probe.Container.Ports holds the bound host ports.
// GPUIDs adds an NVIDIA device request only when it is not nil. If the
// container was created but cannot be started or inspected, it is removed.
// An image that is not local returns an error wrapping probe.ErrImageNotFound.
func (d *Runtime) Start(ctx context.Context, spec probe.ContainerSpec) (probe.Container, error) {
	subject := spec.Name
	if subject == "" {
		subject = spec.Image
	}
	secrets := slices.Collect(maps.Values(spec.SecretEnv))
	fail := func(c context.Context, op string, err error, notFound error) (probe.Container, error) {
		return probe.Container{}, redact(d.fail(c, op, subject, err, notFound), secrets)
	}
	cfg, hc, err := createRequest(spec)
	if err != nil {
		return probe.Container{}, fmt.Errorf("docker: start %s: %w", subject, err)
	}
	c, cancel := d.call(ctx, 0)
	defer cancel()
	created, err := d.cli.ContainerCreate(c, client.ContainerCreateOptions{Name: spec.Name, Config: cfg, HostConfig: hc})
	if err != nil {
		// A 404 on create is always the image: the container does not exist yet.
		return fail(c, "start", err, probe.ErrImageNotFound)
	}
	cleanup := func() {
		rm, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = d.cli.ContainerRemove(rm, created.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	c, cancel = d.call(ctx, 0)
	defer cancel()
	if _, err := d.cli.ContainerStart(c, created.ID, client.ContainerStartOptions{}); err != nil {
		cleanup()
		return fail(c, "start", err, nil)
	}
	c, cancel = d.call(ctx, 0)
	defer cancel()
	ins, err := d.cli.ContainerInspect(c, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		cleanup()
		return fail(c, "start", err, nil)
	}
	return started(created.ID, spec, ins.Container), nil
}

// createRequest translates spec into the engine's create request.
func createRequest(spec probe.ContainerSpec) (*container.Config, *container.HostConfig, error) {
	cfg := &container.Config{
		Image:  spec.Image,
		Cmd:    spec.Args,
		Env:    mergeEnv(spec.Env, spec.SecretEnv),
		Labels: spec.Labels,
	}
	hc := &container.HostConfig{ShmSize: spec.ShmSize}
	if len(spec.Ports) > 0 {
		exposed, bindings, err := portBindings(spec.Ports)
		if err != nil {
			return nil, nil, err
		}
		cfg.ExposedPorts, hc.PortBindings = exposed, bindings
	}
	for _, m := range spec.Mounts {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	if spec.GPUIDs != nil {
		hc.DeviceRequests = []container.DeviceRequest{gpuRequest(spec.GPUIDs)}
	}
	return cfg, hc, nil
}

// portBindings publishes each container port on its loopback address
// (127.0.0.1 by default; an empty host port lets the engine pick one).
func portBindings(ports []probe.PortBinding) (network.PortSet, network.PortMap, error) {
	exposed, bindings := network.PortSet{}, network.PortMap{}
	for _, p := range ports {
		if p.ContainerPort <= 0 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 {
			return nil, nil, fmt.Errorf("bad port binding %d:%d", p.HostPort, p.ContainerPort)
		}
		if !p.Host().IsLoopback() {
			return nil, nil, fmt.Errorf("port binding %s:%d:%d: %s is not a loopback address", p.Host(), p.HostPort, p.ContainerPort, p.Host())
		}
		port, _ := network.PortFrom(uint16(p.ContainerPort), network.TCP)
		host := ""
		if p.HostPort != 0 {
			host = strconv.Itoa(p.HostPort)
		}
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], network.PortBinding{HostIP: p.Host(), HostPort: host})
	}
	return exposed, bindings, nil
}

// gpuRequest asks the NVIDIA runtime for every GPU ("all") or the listed ones.
func gpuRequest(ids []string) container.DeviceRequest {
	req := container.DeviceRequest{Driver: "nvidia", Capabilities: [][]string{{"gpu"}}}
	if slices.Contains(ids, "all") {
		req.Count = -1
	} else {
		req.DeviceIDs = slices.Clone(ids)
	}
	return req
}

// started describes a created container from its inspection: its name,
// whether it runs, and the host port bound to each TCP container port.
func started(id string, spec probe.ContainerSpec, ins container.InspectResponse) probe.Container {
	c := probe.Container{
		ID:     id,
		Name:   strings.TrimPrefix(ins.Name, "/"),
		Image:  spec.Image,
		Labels: spec.Labels,
		Ports:  map[int]int{},
	}
	if ins.State != nil {
		c.Running = ins.State.Running
	}
	if ns := ins.NetworkSettings; ns != nil {
		for port, bindings := range ns.Ports {
			if port.Proto() != network.TCP {
				continue
			}
			for _, b := range bindings {
				if hp, err := strconv.Atoi(b.HostPort); err == nil && hp > 0 {
					c.Ports[int(port.Num())] = hp
					break
				}
			}
		}
	}
	return c
}

// mergeEnv returns env followed by the secrets as KEY=VALUE, sorted by key.
func mergeEnv(env []string, secrets map[string]string) []string {
	out := slices.Clone(env)
	for _, k := range slices.Sorted(maps.Keys(secrets)) {
		out = append(out, k+"="+secrets[k])
	}
	return out
}

// Logs streams the container's stdout and stderr, demultiplexed into one
// stream in the order the engine sends them. With follow the stream stays
// open until the container stops; when ctx ends it ends with io.EOF. Close
// stops it early.
func (d *Runtime) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	c, answered, cancel := d.stream(ctx)
	body, err := d.cli.ContainerLogs(c, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if !answered() || err != nil {
		if err == nil {
			body.Close()
		}
		cancel()
		return nil, d.fail(c, "logs", id, err, probe.ErrNotFound)
	}
	pr, pw := io.Pipe()
	go func() {
		defer cancel()
		_, err := stdcopy.StdCopy(pw, pw, body)
		body.Close()
		switch {
		case err == nil, ctx.Err() != nil, errors.Is(err, io.ErrClosedPipe):
			pw.Close()
		default:
			pw.CloseWithError(fmt.Errorf("docker: logs %s: %w", id, err))
		}
	}()
	return &logStream{PipeReader: pr, body: body}, nil
}

type logStream struct {
	*io.PipeReader
	body io.Closer
}

func (l *logStream) Close() error {
	l.PipeReader.Close()
	return l.body.Close()
}

// Wait blocks until the container is not running and returns its exit code.
func (d *Runtime) Wait(ctx context.Context, id string) (int, error) {
	c, answered, cancel := d.stream(ctx)
	defer cancel()
	res := d.cli.ContainerWait(c, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	if !answered() {
		return 0, d.fail(c, "wait", id, nil, nil)
	}
	select {
	case r := <-res.Result:
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), fmt.Errorf("docker: wait %s: %s", id, r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-res.Error:
		return 0, wrapErr("wait", id, err, probe.ErrNotFound)
	case <-ctx.Done():
		return 0, fmt.Errorf("docker: wait %s: %w", id, ctx.Err())
	}
}

// Stop sends the image's stop signal (SIGTERM by default) and kills the
// container after timeout, rounded up to whole seconds; a negative timeout
// leaves the engine's default. Stopping a stopped container is not an error.
func (d *Runtime) Stop(ctx context.Context, id string, timeout time.Duration) error {
	var opts client.ContainerStopOptions
	if timeout >= 0 {
		secs := int((timeout + time.Second - 1) / time.Second)
		opts.Timeout = &secs
	}
	// The engine answers once the container stopped: after timeout at most.
	c, cancel := d.call(ctx, max(timeout, 0))
	defer cancel()
	if _, err := d.cli.ContainerStop(c, id, opts); err != nil {
		return d.fail(c, "stop", id, err, probe.ErrNotFound)
	}
	return nil
}

// Remove force-removes the container and its anonymous volumes.
func (d *Runtime) Remove(ctx context.Context, id string) error {
	c, cancel := d.call(ctx, 0)
	defer cancel()
	if _, err := d.cli.ContainerRemove(c, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
		return d.fail(c, "remove", id, err, probe.ErrNotFound)
	}
	return nil
}

// List returns every container, running or not, that carries all of labels
// (an empty map lists all containers).
func (d *Runtime) List(ctx context.Context, labels map[string]string) ([]probe.Container, error) {
	f := client.Filters{}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		f.Add("label", k+"="+labels[k])
	}
	c, cancel := d.call(ctx, 0)
	defer cancel()
	res, err := d.cli.ContainerList(c, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, d.fail(c, "list", labelString(labels), err, nil)
	}
	out := make([]probe.Container, 0, len(res.Items))
	for _, s := range res.Items {
		c := probe.Container{ID: s.ID, Image: s.Image, Labels: s.Labels, Ports: map[int]int{}, Running: s.State == container.StateRunning}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		for _, p := range s.Ports {
			if p.PublicPort != 0 && (p.Type == "" || p.Type == string(network.TCP)) {
				c.Ports[int(p.PrivatePort)] = int(p.PublicPort)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func labelString(labels map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ",")
}

// opError is an engine error with vramcalc's context: its message is
// "docker: <op> <subject>: [<kind>: ]<engine message>", and it matches its
// kind (probe.ErrNoEngine, probe.ErrNotFound, probe.ErrImageNotFound) and its cause.
type opError struct {
	msg  string
	errs []error
}

func (e *opError) Error() string   { return e.msg }
func (e *opError) Unwrap() []error { return e.errs }

// wrapErr adds op and subject to an engine error. A connection failure
// wraps probe.ErrNoEngine; a not-found wraps notFound when it is not nil.
func wrapErr(op, subject string, err error, notFound error) error {
	if !cerrdefs.IsNotFound(err) {
		notFound = nil
	}
	return wrapKind(op, subject, err, notFound)
}

// wrapKind adds op and subject to an engine error and wraps kind (if not
// nil), unless the error is a cancellation or a connection failure (which
// wraps probe.ErrNoEngine instead).
func wrapKind(op, subject string, err error, kind error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		kind = nil
	case client.IsErrConnectionFailed(err):
		kind = probe.ErrNoEngine
	}
	if kind == nil {
		return redact(&opError{msg: fmt.Sprintf("docker: %s %s: %v", op, subject, err), errs: []error{err}}, nil)
	}
	return redact(&opError{
		msg:  fmt.Sprintf("docker: %s %s: %s: %v", op, subject, strings.TrimPrefix(kind.Error(), "probe: "), err),
		errs: []error{kind, err},
	}, nil)
}

// redact replaces every secret value and Hugging Face token in err's
// message with "[redacted]" (probe.Redact).
// If one was there, the engine's error is dropped from the chain so that
// nothing reachable by errors.Unwrap still holds the secret; the kind
// (probe.ErrImageNotFound, probe.ErrNoEngine) is kept.
func redact(err error, secrets []string) error {
	msg := probe.Redact(err.Error(), secrets)
	if msg == err.Error() {
		return err
	}
	var kinds []error
	for _, k := range []error{probe.ErrNoEngine, probe.ErrNotFound, probe.ErrImageNotFound, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, k) {
			kinds = append(kinds, k)
		}
	}
	return &opError{msg: msg, errs: kinds}
}
