# Helpers for the SIGKILL loops (sourced after common.sh).

# Each agent process of a loop runs with its own number in the sink's external_labels (added at send
# time, never stored in the WAL), so the receiver can tell which process sent each copy of a record:
# a record twice from one process is a duplicate that no crash explains.
# proc_config TEMPLATE N: writes TEMPLATE with @PROC@ replaced by N to TEMPLATE.run, prints that path.
proc_config() {
	sed "s/@PROC@/$2/g" "$1" >"$1.run"
	echo "$1.run"
}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
