//go:build linux && cgo

package driver

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	gonvml "github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/vramcalc/vramcalc/nvml"
)

// fakeLib is the part of gonvml.Interface that the adapter uses; any other
// method panics through the nil embedded interface. (go-nvml's own mocks
// would do too, but need github.com/google/uuid and do not implement
// GetMemoryInfo_v2.)
type fakeLib struct {
	gonvml.Interface
	initRet   gonvml.Return
	countRet  gonvml.Return
	devs      []*fakeDev
	noV2      bool // nvmlDeviceGetMemoryInfo_v2 missing (driver < R510)
	shutdowns int
}

func (l *fakeLib) Init() gonvml.Return { return l.initRet }

func (l *fakeLib) Shutdown() gonvml.Return { l.shutdowns++; return gonvml.SUCCESS }

func (l *fakeLib) DeviceGetCount() (int, gonvml.Return) { return len(l.devs), l.countRet }

func (l *fakeLib) DeviceGetHandleByIndex(i int) (gonvml.Device, gonvml.Return) {
	if i < 0 || i >= len(l.devs) {
		return nil, gonvml.ERROR_INVALID_ARGUMENT
	}
	return l.devs[i], gonvml.SUCCESS
}

func (l *fakeLib) Extensions() gonvml.ExtendedInterface { return l }

func (l *fakeLib) LookupSymbol(name string) error {
	if name == memInfoV2Symbol && l.noV2 {
		return errors.New("undefined symbol: " + name)
	}
	return nil
}

type fakeDev struct {
	gonvml.Device
	uuid    string
	uuidRet gonvml.Return
	mem     gonvml.Memory_v2
	v2Ret   gonvml.Return // SUCCESS, or NOT_SUPPORTED etc.
	memRet  gonvml.Return // for both versions once opened (GPU lost)
	v2Calls int
}

func (d *fakeDev) GetUUID() (string, gonvml.Return) { return d.uuid, d.uuidRet }

func (d *fakeDev) GetName() (string, gonvml.Return) { return "NVIDIA H100 80GB HBM3", gonvml.SUCCESS }

func (d *fakeDev) GetMemoryInfo_v2() (gonvml.Memory_v2, gonvml.Return) {
	d.v2Calls++
	if d.v2Ret != gonvml.SUCCESS {
		return gonvml.Memory_v2{}, d.v2Ret
	}
	return d.mem, d.memRet
}

// GetMemoryInfo has v1 semantics: Used includes the reservation.
func (d *fakeDev) GetMemoryInfo() (gonvml.Memory, gonvml.Return) {
	return gonvml.Memory{Total: d.mem.Total, Free: d.mem.Free, Used: d.mem.Used + d.mem.Reserved}, d.memRet
}

const (
	gib     = uint64(1) << 30
	h100    = uint64(85017755648) // H100 80GB HBM3, 81,079 MiB
	h100Res = uint64(553648128)   // 528 MiB reserved
)

// h100Mem: 15.5 GiB of weights loaded; 85,017,755,648 − 553,648,128 −
// 16,642,998,272 = 67,821,109,248 B free.
func h100Mem() gonvml.Memory_v2 {
	u := 15*gib + gib/2
	return gonvml.Memory_v2{Total: h100, Reserved: h100Res, Used: u, Free: h100 - h100Res - u}
}

func twoH100s() *fakeLib {
	return &fakeLib{devs: []*fakeDev{
		{uuid: "GPU-5d2f7b1c-0000-0000-0000-000000000000", mem: h100Mem()},
		{uuid: "GPU-5d2f7b1c-0000-0000-0000-000000000001", mem: h100Mem()},
	}}
}

func TestAdapterSample(t *testing.T) {
	tests := []struct {
		name         string
		noV2         bool
		v2Ret        gonvml.Return
		wantUsed     uint64
		wantReserved uint64
		wantV2Calls  int // on device 1, after Open and one Sample
	}{
		{"v2", false, gonvml.SUCCESS, 16642998272, 553648128, 2},
		{"v2 symbol missing (old driver)", true, gonvml.SUCCESS, 17196646400, 0, 0},
		{"v2 not supported", false, gonvml.ERROR_NOT_SUPPORTED, 17196646400, 0, 1},
		{"v2 version mismatch", false, gonvml.ERROR_ARGUMENT_VERSION_MISMATCH, 17196646400, 0, 1},
		{"v2 function not found", false, gonvml.ERROR_FUNCTION_NOT_FOUND, 17196646400, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib := twoH100s()
			lib.noV2 = tt.noV2
			for _, d := range lib.devs {
				d.v2Ret = tt.v2Ret
			}
			s, err := open(lib)
			if err != nil {
				t.Fatal(err)
			}
			devs, err := s.Devices(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := nvml.Device{Index: 1, UUID: "GPU-5d2f7b1c-0000-0000-0000-000000000001", Name: "NVIDIA H100 80GB HBM3", Total: h100}
			if len(devs) != 2 || devs[1] != want {
				t.Fatalf("Devices = %+v, want 2 with [1] = %+v", devs, want)
			}
			m, err := s.Sample(t.Context(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if m.Index != 1 || m.Used != tt.wantUsed || m.Reserved != tt.wantReserved || m.Free != 67821109248 || m.At.IsZero() {
				t.Errorf("Sample = %+v, want Used %d Reserved %d Free 67821109248", m, tt.wantUsed, tt.wantReserved)
			}
			if m.Used+m.Reserved+m.Free != h100 {
				t.Errorf("Used+Reserved+Free = %d, want Total %d", m.Used+m.Reserved+m.Free, h100)
			}
			if got := lib.devs[1].v2Calls; got != tt.wantV2Calls {
				t.Errorf("GetMemoryInfo_v2 calls = %d, want %d", got, tt.wantV2Calls)
			}
			if err := s.Close(); err != nil || lib.shutdowns != 1 {
				t.Errorf("Close = %v with %d shutdowns, want nil and 1", err, lib.shutdowns)
			}
		})
	}
}

func TestAdapterOpenErrors(t *testing.T) {
	tests := []struct {
		name          string
		lib           func() *fakeLib
		wantRet       gonvml.Return // errors.Is target besides nvml.ErrUnavailable; SUCCESS: none
		wantMsg       string
		wantShutdowns int
	}{
		{
			name:    "no driver",
			lib:     func() *fakeLib { return &fakeLib{initRet: gonvml.ERROR_LIBRARY_NOT_FOUND} },
			wantRet: gonvml.ERROR_LIBRARY_NOT_FOUND,
			wantMsg: "nvml: init: load libnvidia-ml.so.1 (no NVIDIA driver?): unavailable: ERROR_LIBRARY_NOT_FOUND",
		},
		{
			name:    "driver not loaded",
			lib:     func() *fakeLib { return &fakeLib{initRet: gonvml.ERROR_DRIVER_NOT_LOADED} },
			wantRet: gonvml.ERROR_DRIVER_NOT_LOADED,
			wantMsg: "nvml: init: unavailable: ERROR_DRIVER_NOT_LOADED",
		},
		{
			name:          "no GPU",
			lib:           func() *fakeLib { return &fakeLib{} },
			wantMsg:       "nvml: count devices: unavailable: no GPU visible",
			wantShutdowns: 1,
		},
		{
			name:          "count fails",
			lib:           func() *fakeLib { l := twoH100s(); l.countRet = gonvml.ERROR_UNKNOWN; return l },
			wantRet:       gonvml.ERROR_UNKNOWN,
			wantMsg:       "nvml: count devices: unavailable: ERROR_UNKNOWN",
			wantShutdowns: 1,
		},
		{
			name:          "device lost while listing",
			lib:           func() *fakeLib { l := twoH100s(); l.devs[1].uuidRet = gonvml.ERROR_GPU_IS_LOST; return l },
			wantRet:       gonvml.ERROR_GPU_IS_LOST,
			wantMsg:       "nvml: device 1: get uuid: unavailable: ERROR_GPU_IS_LOST",
			wantShutdowns: 1,
		},
		{
			name:          "v2 fails otherwise",
			lib:           func() *fakeLib { l := twoH100s(); l.devs[0].v2Ret = gonvml.ERROR_NO_PERMISSION; return l },
			wantRet:       gonvml.ERROR_NO_PERMISSION,
			wantMsg:       "nvml: device 0: memory info (v2): unavailable: ERROR_NO_PERMISSION",
			wantShutdowns: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib := tt.lib()
			s, err := open(lib)
			if s != nil || !errors.Is(err, nvml.ErrUnavailable) {
				t.Fatalf("open = %v, %v; want nil, nvml.ErrUnavailable", s, err)
			}
			if tt.wantRet != gonvml.SUCCESS && !errors.Is(err, tt.wantRet) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.wantRet)
			}
			// Without a loaded library go-nvml names Returns by their
			// constant; with one, nvmlErrorString wording. The fake never
			// loads it.
			if err.Error() != tt.wantMsg {
				t.Errorf("err = %q, want %q", err, tt.wantMsg)
			}
			if lib.shutdowns != tt.wantShutdowns {
				t.Errorf("Shutdown calls = %d, want %d", lib.shutdowns, tt.wantShutdowns)
			}
		})
	}
}

func TestAdapterSampleErrors(t *testing.T) {
	lib := twoH100s()
	s, err := open(lib)
	if err != nil {
		t.Fatal(err)
	}
	lib.devs[1].memRet = gonvml.ERROR_GPU_IS_LOST
	_, err = s.Sample(t.Context(), 1)
	if !errors.Is(err, nvml.ErrUnavailable) || !errors.Is(err, gonvml.ERROR_GPU_IS_LOST) ||
		err.Error() != "nvml: sample device 1: unavailable: ERROR_GPU_IS_LOST" {
		t.Errorf("lost GPU: err = %v", err)
	}
	for _, i := range []int{2, -1} {
		if _, err := s.Sample(t.Context(), i); !errors.Is(err, nvml.ErrNoDevice) || errors.Is(err, nvml.ErrUnavailable) {
			t.Errorf("Sample(%d): err = %v, want nvml.ErrNoDevice only", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil || lib.shutdowns != 1 {
		t.Errorf("second Close = %v with %d shutdowns, want nil and 1", err, lib.shutdowns)
	}
	if _, err := s.Sample(t.Context(), 0); !errors.Is(err, nvml.ErrUnavailable) {
		t.Errorf("Sample after Close: err = %v, want nvml.ErrUnavailable", err)
	}
	if _, err := s.Devices(t.Context()); !errors.Is(err, nvml.ErrUnavailable) {
		t.Errorf("Devices after Close: err = %v, want nvml.ErrUnavailable", err)
	}
}

// TestOpenWithoutDriver calls the real go-nvml. On a machine without an
// NVIDIA driver (this project's CI) Open must return nvml.ErrUnavailable, not
// panic.
func TestOpenWithoutDriver(t *testing.T) {
	s, err := Open()
	if err == nil {
		devs, derr := s.Devices(t.Context())
		s.Close()
		names := make([]string, len(devs))
		for i, d := range devs {
			names[i] = d.Name
		}
		t.Skipf("NVML works here (%d GPUs: %s, %v): this test covers machines without a driver",
			len(devs), strings.Join(names, ", "), derr)
	}
	if s != nil {
		t.Errorf("Open returned a nvml.Sampler with error %v", err)
	}
	if !errors.Is(err, nvml.ErrUnavailable) {
		t.Fatalf("Open: err = %v, want nvml.ErrUnavailable", err)
	}
	t.Logf("Open: %v", err)
}

// TestBuildsWithoutCgo runs this package's tests with CGO_ENABLED=0, which
// swaps gonvml.go for stub.go (TestOpenStub) and keeps Fake, Peak and
// SimSampler building.
func TestBuildsWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	cmd := exec.Command(gobin, "test", "-count=1", "-run", "^(TestOpenStub|TestFake|TestNull)", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("CGO_ENABLED=0 go test: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "ok ") {
		t.Errorf("CGO_ENABLED=0 go test printed %q", out)
	}
}
