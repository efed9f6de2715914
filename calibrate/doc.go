// Package calibrate turns observations of real engine starts into numbers
// that judge and improve the estimator. For now it reads the startup-report
// CSV schema (shared/data/startup_reports_dev.csv: figures engines printed in
// public logs) and scores predictions against it (Accuracy), describes the
// fit of the estimate's Corrections (activation factor, per-GPU overhead,
// wiggle) to observed KV budgets with a robust loss (Sample, FitOptions,
// FitReport; the Nelder–Mead fit itself is package calibrate/fit, so that
// this package links no gonum), and reads and writes the versioned
// corrections file (ReadFile, WriteFile).
//
// It does no I/O beyond the io.Reader it is given and never prints; it does
// not know how predictions are made (the caller passes a Predictor), so it
// does not depend on hfmeta or the GPU catalog.
package calibrate
