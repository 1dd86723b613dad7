"""Generated from proto/vitrina/v1/*.proto by `make proto`; edit the .proto files, not these."""
