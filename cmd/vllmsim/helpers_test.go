package main

import "net"

// localListen binds loopback only, whatever host the command asks for.
func localListen(network, addr string) (net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	return net.Listen(network, net.JoinHostPort("127.0.0.1", port))
}
