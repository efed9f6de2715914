package nvml

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// SimSampler reads GPU memory from the TGI simulator (cmd/tgisim) instead of
// NVML, so that validate runs end to end on machines without a GPU.
//
// The contract, shared with the simulator:
//
//	GET {BaseURL}/sim/gpus
//
//	200 OK
//	Content-Type: application/json
//
//	[{"index":0,"uuid":"sim-0","name":"NVIDIA H100 80GB HBM3","total":85017755648,"used":123,"free":456}]
//
// The body is a JSON array with one object per simulated GPU, in index
// order; an empty array means no GPU. Fields:
//
//   - index (integer): the device index, Device.Index and MemSample.Index.
//   - uuid (string): Device.UUID.
//   - name (string): Device.Name, as NVML would report it.
//   - total (integer, bytes): Device.Total.
//   - used (integer, bytes): MemSample.Used at the time of the request.
//   - free (integer, bytes): MemSample.Free at the time of the request.
//
// Every request reports the current state. There is no reserved field, so
// MemSample.Reserved is always 0; unknown fields are ignored.
//
// When the simulator cannot be reached (connection refused, or any other
// failure to dial) or answers 404 (no such endpoint: not the simulator),
// Devices and Sample return an error matching ErrUnavailable. Other statuses
// and malformed bodies are plain errors. Each call makes one request; the
// caller's context bounds it.
type SimSampler struct {
	// BaseURL is the simulator's root, e.g. "http://127.0.0.1:8080"; a
	// trailing slash is ignored.
	BaseURL string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// simGPU is one element of the /sim/gpus array.
type simGPU struct {
	Index int    `json:"index"`
	UUID  string `json:"uuid"`
	Name  string `json:"name"`
	Total uint64 `json:"total"`
	Used  uint64 `json:"used"`
	Free  uint64 `json:"free"`
}

// maxSimBody bounds the /sim/gpus body (a few hundred bytes per GPU).
const maxSimBody = 1 << 20

// Devices returns the simulated GPUs.
func (s SimSampler) Devices(ctx context.Context) ([]Device, error) {
	gpus, err := s.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("nvml: devices: %w", err)
	}
	out := make([]Device, len(gpus))
	for i, g := range gpus {
		out[i] = Device{Index: g.Index, UUID: g.UUID, Name: g.Name, Total: g.Total}
	}
	return out, nil
}

// Sample returns the simulated device's current used and free memory, or
// ErrNoDevice when the simulator lists no GPU with that index.
func (s SimSampler) Sample(ctx context.Context, index int) (MemSample, error) {
	gpus, err := s.get(ctx)
	if err != nil {
		return MemSample{}, fmt.Errorf("nvml: sample device %d: %w", index, err)
	}
	for _, g := range gpus {
		if g.Index == index {
			return MemSample{At: time.Now(), Index: index, Used: g.Used, Free: g.Free}, nil
		}
	}
	return MemSample{}, NoDevice(index)
}

// Close does nothing: the HTTP client belongs to the caller.
func (SimSampler) Close() error { return nil }

// get fetches and decodes /sim/gpus. Its errors carry no "nvml:" prefix;
// the callers add it.
func (s SimSampler) get(ctx context.Context) ([]simGPU, error) {
	url := strings.TrimSuffix(s.BaseURL, "/") + "/sim/gpus"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	client := s.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var op *net.OpError
		if ctx.Err() == nil && errors.As(err, &op) && op.Op == "dial" {
			return nil, Unavailable(err, "sim")
		}
		return nil, fmt.Errorf("sim: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSimBody+1))
	if err != nil {
		return nil, fmt.Errorf("sim: read GET %s: %w", url, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, Unavailable(fmt.Errorf("GET %s: %s (not the simulator?)", url, resp.Status), "sim")
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("sim: GET %s: %s: %s", url, resp.Status, snippet(body))
	case len(body) > maxSimBody:
		return nil, fmt.Errorf("sim: GET %s: body larger than %d bytes", url, maxSimBody)
	}
	var gpus []simGPU
	if err := json.Unmarshal(body, &gpus); err != nil {
		return nil, fmt.Errorf("sim: decode GET %s: %w", url, err)
	}
	return gpus, nil
}

// snippet returns the start of an error body for a message.
func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "..."
	}
	return fmt.Sprintf("%q", s)
}

var _ Sampler = SimSampler{}
