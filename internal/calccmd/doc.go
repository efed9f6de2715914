// Package calccmd holds vramcalc's computing commands (estimate, plan,
// models, gpus) as urfave/cli commands over a cmdutil.Env: cmd/vramcalc
// wires them into its app, and vramcalc-serve (internal/servecmd) runs the
// same commands in-process for its API, so that both print the same bytes
// for the same inputs.
package calccmd
