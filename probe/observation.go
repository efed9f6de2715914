package probe

import "github.com/vramcalc/vramcalc/probe/results"

// The results file's types are package results', so that what only reads
// the file links nothing of probe's (HTTP, NVML); probe's API speaks in them
// under these names.
type (
	// Observation is one launch: see [results.Observation].
	Observation = results.Observation
	// Point is one set of launch limits to try: see [results.Point].
	Point = results.Point
	// Reported is what the engine itself printed or exported about
	// sizing: see [results.Reported].
	Reported = results.Reported
	// RequestStats summarizes the requests of one launch: see
	// [results.RequestStats].
	RequestStats = results.RequestStats
	// Prediction is the estimate for one point: see [results.Prediction].
	Prediction = results.Prediction
	// Store appends observations to a results file: see [results.Store].
	Store = results.Store
)

// OpenStore is [results.OpenStore].
func OpenStore(path string) (*Store, results.Contents, error) { return results.OpenStore(path) }
