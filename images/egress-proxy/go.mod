module sandboxshift.dev/egress

go 1.19
