package estimate

import "testing"

// Result.WeightsFrom says exactly where the weight bytes came from, for every engine.
func TestWeightsFromLabels(t *testing.T) {
	withTensors := llama31_8B
	withTensors.Tensors = llamaTensors(llama31_8B)
	catalog := withTensors
	catalog.TensorsFrom = WeightsFromCatalog
	for _, c := range []struct {
		name string
		m    Model
		want string
	}{
		{"headers", withTensors, "safetensors headers"},
		{"catalog", catalog, "catalog (derived from config.json, checked against the published parameter count)"},
		{"config only", llama31_8B, "config.json"},
	} {
		for _, eng := range []string{"tgi", "vllm", "sglang"} {
			res, err := Run(c.m, Hardware{GPU: h100, Count: 1}, Engine{Name: eng}, Settings{})
			if err != nil {
				t.Fatal(err)
			}
			if res.WeightsFrom != c.want {
				t.Errorf("%s, %s: weights from %q, want %q", c.name, eng, res.WeightsFrom, c.want)
			}
		}
	}
}
