package probe

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"
)

// Runtime starts and watches containers, in vramcalc's own terms. One
// adapter package per container engine implements it (probe/docker, over
// the Docker Engine API); tests use fakes. Methods return errors wrapped with
// the container or image they concern; ErrNotFound and ErrImageNotFound are
// branch points.
type Runtime interface {
	// ImageExists reports whether the image is present locally.
	ImageExists(ctx context.Context, image string) (bool, error)
	// Pull fetches the image; progress lines go to the optional writer.
	Pull(ctx context.Context, image string, progress io.Writer) error
	// Start creates and starts a container from spec.
	Start(ctx context.Context, spec ContainerSpec) (Container, error)
	// Logs streams the container's demultiplexed stdout and stderr (in the
	// order the engine gives them); follow keeps the stream open until the
	// container stops or ctx ends.
	Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error)
	// Wait blocks until the container stops and returns its exit code.
	Wait(ctx context.Context, id string) (int, error)
	// Stop asks the container to stop, killing it after timeout.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Remove deletes the container (forcefully, with its anonymous volumes).
	Remove(ctx context.Context, id string) error
	// List returns the containers (running or not) carrying all the labels.
	List(ctx context.Context, labels map[string]string) ([]Container, error)
}

// ContainerSpec is what Start needs.
type ContainerSpec struct {
	// Name is the container name (optional).
	Name string
	// Image is the image reference.
	Image string
	// Args are the arguments after the image's entrypoint.
	Args []string
	// Env holds KEY=VALUE pairs that may be logged.
	Env []string
	// SecretEnv holds variables (HF_TOKEN) that are passed but never logged
	// or recorded.
	SecretEnv map[string]string
	// Labels identify the run (vramcalc.run=<id>) so that interrupted runs
	// can be cleaned up.
	Labels map[string]string
	// Ports publishes container ports on loopback addresses of the host
	// only; host port 0 lets the engine choose.
	Ports []PortBinding
	// ShmSize is /dev/shm in bytes (TGI needs ~1 GiB for NCCL).
	ShmSize int64
	// Mounts are bind mounts (the Hugging Face cache).
	Mounts []Mount
	// GPUIDs selects GPUs for the NVIDIA runtime: nil means no GPU request
	// (the simulator), []string{"all"} every GPU, else device indices or UUIDs.
	GPUIDs []string
}

// PortBinding publishes one container port on a loopback address of the
// host: docker's -p HostIP:HostPort:ContainerPort.
type PortBinding struct {
	ContainerPort int
	// HostPort 0 lets the engine choose a free port.
	HostPort int
	// HostIP is the loopback address to bind; the zero Addr means
	// 127.0.0.1. Runtimes refuse any address that is not loopback.
	HostIP netip.Addr
}

// Host is the binding's host address (127.0.0.1 when HostIP is unset).
func (b PortBinding) Host() netip.Addr {
	if b.HostIP.IsValid() {
		return b.HostIP
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// Mount is a bind mount.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// Container is a started (or listed) container.
type Container struct {
	ID, Name string
	Image    string
	Labels   map[string]string
	// Ports maps container ports to the host ports actually bound.
	Ports map[int]int
	// Running is true while the container runs.
	Running bool
}

// Errors for branch points.
var (
	// ErrNotFound: no such container.
	ErrNotFound = errors.New("probe: container not found")
	// ErrImageNotFound: the image is neither local nor pullable.
	ErrImageNotFound = errors.New("probe: image not found")
	// ErrNoEngine: no container engine answers.
	ErrNoEngine = errors.New("probe: no container engine")
	// ErrEngineTimeout: the engine took the request but did not answer
	// within the runtime's deadline. Errors that wrap it wrap ErrNoEngine
	// too.
	ErrEngineTimeout = errors.New("probe: container engine timed out")
)

// RunLabel is the label every container of a validate run carries.
const RunLabel = "vramcalc.run"
