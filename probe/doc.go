// Package probe checks the estimate against a real serving engine: it
// starts the engine in containers at a few settings near the edge the
// estimate predicts, records what each start did, and recommends a
// --max-total-tokens that started on several fresh launches in a row. It
// is the library behind
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
// Search finds a --max-total-tokens to recommend and confirms it: the
// recommendation is a value that started on Plan.Confirm (3) consecutive
// fresh launches, never an untested one. Each launch is read as a shift of
// the estimate, in bytes per GPU: the peak until the warm-up ended (NVML,
// or the simulator's /sim/gpus) is the overhead the estimate missed, and a
// reported KV budget with blocks beyond the warm-up's own is overhead plus
// reserve (the wiggle room), so together they separate the two; a
// warm-up OOM gives a lower bound (the room the estimate left, plus what
// torch's "Tried to allocate X … of which Y is free" was short). The
// recommendation is the estimate's edge (Plan.Shifted, each tooth of TGI's
// warm-up sawtooth included) with the worst overhead seen plus a margin
// of max(Plan.Margin, 2 × the spread of the overheads), snapped to a value
// that already started within Plan.Tolerance below it. The first launch
// goes where the estimate alone would recommend; after a failure that
// showed no budget (TGI v3.3 logs only the warm-up's blocks above the
// budget), the next goes where a reserve 5% of the card larger would put
// the edge, so that it most likely starts and reports one. A failure at a
// value that started before means the spread is real: the recommendation
// moves down to cover it and the confirmations start over. A warm-up OOM
// below a start whose warm-up the estimate sizes smaller is fragmentation
// (values start on disjoint ranges), not spread: Edge.Fragmented and
// Edge.Ranges say so, as they do when the corrected estimate gives more
// than one range (Plan.Ranges). On 36 deployments only the simulator knows
// (bench/validate.sh) the search confirms in a median of 4.5 launches, at
// most 5, and every recommendation starts on 20 further fresh launches.
// A cancelled context ends the search with an error: it is never done.
//
// Validate runs a whole validation from plain inputs (Validation): the
// plan from the estimate, the results file, --resume, leftover cleanup,
// the image (pulled when missing) and the search. It never prints or
// exits and reads no flags or environment: progress, pulls, cleanups and
// warnings are Events to Config.Progress.
//
// # The results file
//
// A run first writes its header (run id, model, engine and image, GPU,
// settings), then each launch as one JSON line of the results file
// (Observation), each appended and fsynced before the search goes on. The
// run holds the file's lock while it lasts, so a second run on the same
// file fails naming the first's run id; --resume reads the file back and
// does not launch again what it holds (the launches of a point are taken
// in order, so confirmations resume too). The file is opened only once the container
// engine has answered, so a run without one leaves no file. The format,
// the Store that writes it and what the file guarantees are package
// [results]: calibrate and plot read the file through it without linking
// probe. probe's Observation, Point, Reported, RequestStats, Prediction and
// Store are aliases of its types, and OpenStore calls its OpenStore, so
// probe's API keeps its names.
//
// # Containers, ports and secrets
//
// Every container carries the label vramcalc.run=<run id> (RunLabel) and
// is named vramcalc-<run id>-<seq>. Run ids are the Unix time and 64
// random bits from crypto/rand ("1767225600-3fa2c1d4e5f60718"), so runs on
// one engine never share a name or a label. A launch removes its container
// when it ends, even when its context is cancelled (Ctrl-C); the Docker
// adapter removes a container it created but could not start; and a
// resumed run first removes the containers labelled with a run id its
// results file names (in a header or an observation: a crashed run's,
// even one killed in its first launch), and never another run's.
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
