package simkit

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Leak is the optional slow growth of device memory under load
// (SIM_LEAK_BYTES_PER_REQUEST): every finished request leaves PerRequest
// bytes on each of the first Ranks GPUs. The first time a GPU would go
// past its total, OnOOM is called once with the allocation torch would
// refuse, and the leak stops.
type Leak struct {
	GPUs       *GPUs
	Ranks      int
	PerRequest int64
	OnOOM      func(TorchOOM)
	mu         sync.Mutex
	fired      bool
}

// Finished records one finished request.
func (l *Leak) Finished() {
	if l == nil || l.PerRequest <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fired {
		return
	}
	for i := range l.Ranks {
		used, total := l.GPUs.Used(i), l.GPUs.Total()
		if used+l.PerRequest > total {
			l.fired = true
			if l.OnOOM != nil {
				l.OnOOM(TorchOOM{Request: l.PerRequest, Total: total, Free: total - used, InUse: used, Allocated: used, GPU: i})
			}
			return
		}
	}
	for i := range l.Ranks {
		l.GPUs.Set(i, l.GPUs.Used(i)+l.PerRequest)
	}
}

// Serve serves h on ln until ctx ends or die is closed, then shuts the
// server down (requests in flight get a second), and reports whether it
// stopped because of die.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, die <-chan struct{}) (died bool, err error) {
	reqCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return reqCtx }}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case <-die:
		died = true
	case err = <-served:
		return false, err
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), time.Second)
	defer scancel()
	hs.Shutdown(sctx)
	return died, nil
}

// ServeGPUs serves GET /sim/gpus on its own port (SIM_GPUS_PORT) from
// launch on, so a sampler sees the start's memory before the engine's
// port opens; the returned function stops it.
func ServeGPUs(listen func(network, addr string) (net.Listener, error), host string, port int, g *GPUs) (func(), error) {
	ln, err := listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return func() {}, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /sim/gpus", g)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return func() { hs.Close() }, nil
}

// Sleep waits d, or returns false when ctx ends first.
func Sleep(ctx context.Context, d time.Duration) bool { return sleepCtx(ctx, d) }

// Start is what every engine's simulated start has: the context that
// SIGTERM cancels, the environment, the GPUs and how many of them the
// engine uses (its tensor-parallel ranks).
type Start struct {
	Ctx   context.Context
	Env   Env
	GPUs  *GPUs
	Ranks int
}

// SetRanks sets every rank's memory in use to used(rank).
func (s *Start) SetRanks(used func(rank int) int64) { s.GPUs.SetAll(s.Ranks, used) }

// Step waits 1/share of SIM_STARTUP_DELAY; false when asked to stop.
func (s *Start) Step(share int) bool {
	return Sleep(s.Ctx, s.Env.StartupDelay/time.Duration(share))
}

// ServeGPUsPort is ServeGPUs on SIM_GPUS_PORT when port > 0; a port that
// cannot be opened is reported on stderr as "prog: SIM_GPUS_PORT: …" and
// the start goes on without it. The returned function stops it.
func ServeGPUsPort(listen func(network, addr string) (net.Listener, error), host string, port int, g *GPUs, stderr io.Writer, prog string) func() {
	if port <= 0 {
		return func() {}
	}
	stop, err := ServeGPUs(listen, host, port, g)
	if err != nil {
		fmt.Fprintf(stderr, "%s: SIM_GPUS_PORT: %v\n", prog, err)
	}
	return stop
}

// Serving is what a simulated engine's API server holds once it serves:
// the scheduler, the OpenAI API over it, the planted leak, and whether the
// engine behind it died (then every request fails and Die closes when the
// server is to stop).
type Serving struct {
	Sched *Scheduler
	API   *API
	// Die closes when the server is to stop (Stop).
	Die  chan struct{}
	mu   sync.Mutex
	dead error
}

// NewServing starts the serving state: a scheduler of cfg, the leak of
// perRequest bytes per finished request on ranks GPUs (onOOM hears the
// runtime OOM it ends in), and api over the scheduler, whose Alive is the
// engine's state.
func NewServing(cfg SchedConfig, gpus *GPUs, ranks int, perRequest int64, onOOM func(TorchOOM), api *API) *Serving {
	s := &Serving{Sched: NewScheduler(cfg), API: api, Die: make(chan struct{})}
	leak := &Leak{GPUs: gpus, Ranks: ranks, PerRequest: perRequest, OnOOM: onOOM}
	s.Sched.OnFinish = leak.Finished
	api.Sched, api.Alive = s.Sched, s.Alive
	return s
}

// Alive is nil while the engine serves, else why it does not.
func (s *Serving) Alive() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead
}

// Kill marks the engine dead with err and fails every request.
func (s *Serving) Kill(err error) {
	s.mu.Lock()
	s.dead = err
	s.mu.Unlock()
	s.Sched.Fail(err)
}

// Stop closes Die: the server stops serving.
func (s *Serving) Stop() { close(s.Die) }
