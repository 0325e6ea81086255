//! An address where nothing listens, for connection-refused tests.

use std::net::{Ipv4Addr, SocketAddr};

/// A loopback port that is bound but not listening: connecting to it is
/// refused, and while this value lives no other socket can take the port
/// (unlike "bind, read the port, drop", which races with other tests).
#[derive(Debug)]
pub struct FreePort {
    _socket: tokio::net::TcpSocket,
    addr: SocketAddr,
}

impl FreePort {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

/// Reserve a loopback port where nothing listens. Panics if the OS has no
/// free port (a test-environment failure).
pub fn free_port() -> FreePort {
    let socket = tokio::net::TcpSocket::new_v4().expect("create a TCP socket");
    socket
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .expect("bind 127.0.0.1:0");
    let addr = socket
        .local_addr()
        .expect("local address of the bound socket");
    FreePort {
        _socket: socket,
        addr,
    }
}
