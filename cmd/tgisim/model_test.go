package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vramcalc/vramcalc/internal/simkit"
)

const fixtures = "../../testdata/tgisim"

func TestResolveModel(t *testing.T) {
	tiny := func(t *testing.T, m *simkit.Model) {
		t.Helper()
		if m.Layers != 4 || m.Hidden != 256 || m.Heads != 4 || m.NumKVHeads() != 2 || m.HeadSize() != 64 || m.Intermediate != 1024 || m.Vocab != 1000 || m.MaxPositions != 4096 {
			t.Errorf("tiny model read as %+v", m)
		}
	}
	tests := []struct {
		name    string
		argv    []string
		env     map[string]string
		weights int64
		from    string
		check   func(*testing.T, *simkit.Model)
	}{
		{
			name:    "SIM_MODEL inline JSON",
			argv:    []string{"--model-id", "org/any"},
			env:     map[string]string{"SIM_MODEL": `{"layers":2,"hidden":64,"heads":2,"intermediate":128,"vocab":100,"weights_bytes":12345}`},
			weights: 12345, from: "weights_bytes",
			check: func(t *testing.T, m *simkit.Model) {
				if m.ID != "org/any" || m.NumKVHeads() != 2 || m.HeadSize() != 32 {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name:    "SIM_MODEL file",
			env:     map[string]string{"SIM_MODEL": filepath.Join(fixtures, "sim-model.json")},
			weights: 16_060_522_496, from: "weights_bytes",
		},
		{
			name:    "--model-id directory with an index",
			argv:    []string{"--model-id", filepath.Join(fixtures, "tiny")},
			weights: 10_000_000, from: "model.safetensors.index.json", check: tiny,
		},
		{
			// Two BF16 tensors: 1000·256·2 + 256·256·2 = 643,072 B.
			name:    "header-only safetensors",
			argv:    []string{"--model-id", filepath.Join(fixtures, "header-only")},
			weights: 643_072, from: "safetensors headers", check: tiny,
		},
		{
			name:    "Hugging Face cache under HF_HOME",
			argv:    []string{"--model-id", "test-org/tiny-chat"},
			env:     map[string]string{"HF_HOME": fixtures, "HUGGINGFACE_HUB_CACHE": ""},
			weights: 10_000_000, from: "model.safetensors.index.json", check: tiny,
		},
		{
			name:    "--huggingface-hub-cache wins",
			argv:    []string{"--model-id", "test-org/tiny-chat", "--huggingface-hub-cache", filepath.Join(fixtures, "hub")},
			env:     map[string]string{"HF_HOME": "/nonexistent"},
			weights: 10_000_000, from: "model.safetensors.index.json", check: tiny,
		},
		{
			name:    "embedded catalog",
			argv:    []string{"--model-id", "meta-llama/Llama-3.1-8B-Instruct"},
			env:     map[string]string{"HF_HOME": t.TempDir()},
			weights: 16_060_522_496, from: "weights_bytes",
		},
		{
			name:    "config.json of a real model",
			argv:    []string{"--model-id", filepath.Join(fixtures, "llama-3.1-8b")},
			weights: 16_060_522_496, from: "model.safetensors.index.json",
			check: func(t *testing.T, m *simkit.Model) {
				if m.Layers != 32 || m.NumKVHeads() != 8 || m.HeadSize() != 128 || m.Vocab != 128256 || m.MaxPositions != 131072 || m.ModelType != "llama" {
					t.Errorf("got %+v", m)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseArgs(tt.argv, envMap(nil))
			if err != nil {
				t.Fatal(err)
			}
			m, err := resolveModel(a, envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if m.WeightsBytes != tt.weights || m.WeightsFrom != tt.from {
				t.Errorf("weights %d from %q, want %d from %q", m.WeightsBytes, m.WeightsFrom, tt.weights, tt.from)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestResolveModelErrors(t *testing.T) {
	a, _ := parseArgs([]string{"--model-id", "nobody/nothing"}, envMap(nil))
	if _, err := resolveModel(a, envMap(map[string]string{"HF_HOME": t.TempDir()})); !errors.Is(err, simkit.ErrModelNotFound) {
		t.Errorf("unknown hub id: %v, want simkit.ErrModelNotFound", err)
	}
	for _, tt := range []struct{ sim, want string }{
		{`{"layers":2,"hidden":64,"heads":2,"intermediate":128,"vocab":100,"weights_bytes":1,"layer":3}`, `unknown field "layer"`},
		{`{"layers":0,"hidden":64,"heads":2,"intermediate":128,"vocab":100,"weights_bytes":1}`, "layers must be > 0 (got 0)"},
		{`{"layers":2,"hidden":64,"heads":2,"intermediate":128,"vocab":100}`, "weights_bytes must be > 0 (got 0)"},
	} {
		_, err := resolveModel(a, envMap(map[string]string{"SIM_MODEL": tt.sim}))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SIM_MODEL %s: %v, want %q", tt.sim, err, tt.want)
		}
	}
}
