package hfmeta

// PythonConstants exposes pythonConstants to the external tests.
var PythonConstants = pythonConstants
