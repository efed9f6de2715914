// Package calibrate turns observations of real engine starts into numbers
// that judge and improve the estimator.
//
//   - Reports: ReadReports reads the startup-report CSV schema
//     (testdata/startup_reports_dev.csv: figures engines printed in
//     public logs); ReportInputs turns a row into the estimate's inputs and
//     PredictReport runs the estimate for it; Accuracy scores predictions
//     against the rows.
//   - Starts: ReadStarts reads observed TGI starts (a validate results file,
//     whose format is package [results], with Fallbacks for what it does not
//     record, or a startup-report CSV) with the estimate's inputs for each;
//     GroupStarts groups them by engine
//     and GPU, and a Group says which corrections its starts can tell apart
//     (FitOptions) and predicts their budgets (Predict).
//   - The fit of the estimate's Corrections (activation factor, per-GPU
//     overhead, wiggle) to those budgets with a robust loss is described here
//     (Sample, FitOptions, FitReport) and done by package calibrate/fit, with
//     Nelder–Mead from gonum, so that this package links no gonum.
//   - The versioned corrections file: NewFile, ReadFile, WriteFile.
//
// It reads no flags or environment, prints nothing and does no I/O beyond
// the io.Reader it is given; models are resolved with the hfmeta.Client the
// caller passes, GPUs with package gpus.
package calibrate
