// Package probe checks the estimate against a real serving engine: it
// starts the engine in containers at a few settings near the edge the
// estimate predicts, records what each start did, and pins the largest
// --max-total-tokens that starts. It is the library behind
// `vramcalc validate`; cmd/vramcalc only parses flags, opens the runtime and
// the GPU sampler, shows progress and renders the result.
//
// # Seams
//
// probe drives three things it does not implement itself, each behind an
// interface so that tests replace it with an in-process fake:
//
//   - Runtime starts, watches and removes containers. Package probe/docker
//     implements it over the Docker Engine API; it is a package of its own
//     so that probe, and everything that only reads observations, does not
//     import the Docker SDK (moby, containerd, opencontainers, otel).
//   - Engine is what is specific to one serving engine: its launcher flags
//     for a Point, its port, health and metrics paths, the log lines and the
//     gauge that report its KV budget, and how a failed start reads
//     (Classify, into estimate's failure kinds). TGI is the one today.
//   - nvml.Sampler reads GPU memory while a launch runs: NVML, or the TGI
//     simulator's GET /sim/gpus (at a fixed URL, or with
//     Config.SimGPUsPort on each launch's own container). nvml.Unopened
//     stands for an NVML that could not be opened, so that launches record
//     why they have no peak instead of leaving it silently empty.
//
// # Launches
//
// Config says how a point runs; Config.Launcher returns the function the
// search calls. Each launch starts one container, follows its log (the
// engine's sizing lines), waits for the health check or the container's
// exit (or Config.HealthTimeout), samples GPU memory throughout, reads the
// KV budget gauge, sends token-exact requests (RequestPlan), and stops and
// removes the container whatever happened, cancellation included. Its
// phases go to Config.Progress as Events.
//
// # The search
//
// Search pins the edge in few launches (a median of 3 on simulated
// engines) by turning each launch into a correction of the estimate rather
// than bisecting blindly. The first launch goes inside the predicted edge
// by the larger of 10% and 1.25 GiB of warm-up memory, where it most likely
// starts. A start's reported KV budget then says how many bytes per GPU the
// estimate missed, and the estimate's own edge is recomputed with that
// shift (Plan.Shifted); a failure's NVML peak does so too, more roughly,
// and only ever moves the edge down. The next launches straddle the
// corrected edge at ±0.9·Tolerance. Without a usable correction the search
// steps down by a growing margin while nothing has started (up while
// nothing has failed), else bisects.
// It stops when the interval is within ±Tolerance (Edge.Pinned), when the
// model's context itself starts (Edge.AtCap), or after MaxLaunches.
//
// Validate runs a whole validation from plain inputs (Validation): the
// plan from the estimate, the results file, --resume, leftover cleanup,
// the image (pulled when missing) and the search. It never prints or
// exits and reads no flags or environment: progress, pulls, cleanups and
// warnings are Events to Config.Progress.
//
// # The results file
//
// Each launch is one JSON line of the results file (Observation), appended
// and fsynced before the search goes on; --resume reads the file back and
// launches no point twice. The format, the Store that writes it and what
// the file guarantees are package [results]: calibrate and plot read the
// file through it without linking probe. probe's Observation, Point,
// Reported, RequestStats, Prediction and Store are aliases of its types,
// and OpenStore calls its OpenStore, so probe's API keeps its names.
//
// # Containers, ports and secrets
//
// Every container carries the label vramcalc.run=<run id> (RunLabel) and
// is named vramcalc-<run id>-<seq>. Run ids are the Unix time and 24
// random bits, so concurrent runs on one engine never share a name or a
// label. A launch removes its container when it ends, even when its
// context is cancelled (Ctrl-C); the Docker adapter removes a container
// it created but could not start; and a resumed run first removes every
// container still labelled with its id (a crashed run's).
//
// Ports are published on loopback addresses only (127.0.0.1 unless a
// PortBinding names another loopback address; the Docker adapter refuses
// any other), on free host ports unless told otherwise.
//
// The Hugging Face token goes to the container through
// ContainerSpec.SecretEnv and is never recorded: observations hold no
// environment, the Docker adapter redacts secret values from every error
// it returns, and the log watcher replaces them with "[redacted]" before a
// line reaches log_tail, even when the engine prints its environment.
// Redact also hides anything shaped as a Hub token (hf_…), whichever
// variable held it.
//
// # Interrupts
//
// A launch whose context ends (Ctrl-C, SIGTERM) returns an error wrapping
// context.Canceled and no observation, whatever phase it was in: requests
// the interrupt cut are not failures, and a half-seen start is not a
// result. Its container is removed all the same (by name when the
// interrupt cut the create's answer). Search and Validate return the
// error too, so a cancelled run is never reported as done. The Docker
// adapter bounds every Engine API call (docker.WithCallTimeout): an engine
// that takes a request and never answers is probe.ErrEngineTimeout.
package probe
