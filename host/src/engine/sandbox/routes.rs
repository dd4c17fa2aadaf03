//! A route that keeps link-local addresses (169.254.0.0/16, where clouds serve instance
//! metadata and credentials) out of reach of the steps' own network: slirp4netns would carry a
//! connection there like any other. Added by the namespace's holder, with one rtnetlink message,
//! in a namespace the steps cannot reconfigure.

use std::io;
use std::mem::size_of;

/// 169.254.0.0, the link-local network.
const LINK_LOCAL: [u8; 4] = [169, 254, 0, 0];
/// Its prefix length.
const LINK_LOCAL_PREFIX: u8 = 16;

/// `RTM_NEWROUTE`.
const RTM_NEWROUTE: u16 = 24;
/// `RT_TABLE_MAIN`.
const RT_TABLE_MAIN: u8 = 254;
/// `RTPROT_STATIC`.
const RTPROT_STATIC: u8 = 4;
/// `RTN_UNREACHABLE`.
const RTN_UNREACHABLE: u8 = 7;
/// `RTA_DST`.
const RTA_DST: u16 = 1;
/// `NLMSG_ERROR`.
const NLMSG_ERROR: u16 = 2;

/// The request: `nlmsghdr`, `rtmsg`, and one `rtattr` holding the destination.
#[repr(C)]
struct Request {
    /// `nlmsghdr.nlmsg_len`.
    length: u32,
    /// `nlmsghdr.nlmsg_type`.
    kind: u16,
    /// `nlmsghdr.nlmsg_flags`.
    flags: u16,
    /// `nlmsghdr.nlmsg_seq`.
    sequence: u32,
    /// `nlmsghdr.nlmsg_pid`.
    port: u32,
    /// `rtmsg.rtm_family`.
    family: u8,
    /// `rtmsg.rtm_dst_len`.
    destination_length: u8,
    /// `rtmsg.rtm_src_len`.
    source_length: u8,
    /// `rtmsg.rtm_tos`.
    tos: u8,
    /// `rtmsg.rtm_table`.
    table: u8,
    /// `rtmsg.rtm_protocol`.
    protocol: u8,
    /// `rtmsg.rtm_scope`.
    scope: u8,
    /// `rtmsg.rtm_type`.
    route_type: u8,
    /// `rtmsg.rtm_flags`.
    route_flags: u32,
    /// `rtattr.rta_len`.
    attribute_length: u16,
    /// `rtattr.rta_type`.
    attribute_type: u16,
    /// The destination address.
    destination: [u8; 4],
}

/// Adds an "unreachable" route for the link-local network to the calling process's network
/// namespace.
pub fn block_link_local() -> io::Result<()> {
    let request = Request {
        length: size_of::<Request>() as u32,
        kind: RTM_NEWROUTE,
        flags: (libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL)
            as u16,
        sequence: 1,
        port: 0,
        family: libc::AF_INET as u8,
        destination_length: LINK_LOCAL_PREFIX,
        source_length: 0,
        tos: 0,
        table: RT_TABLE_MAIN,
        protocol: RTPROT_STATIC,
        scope: libc::RT_SCOPE_UNIVERSE,
        route_type: RTN_UNREACHABLE,
        route_flags: 0,
        attribute_length: 8,
        attribute_type: RTA_DST,
        destination: LINK_LOCAL,
    };
    // SAFETY: plain socket calls on a descriptor owned here; the buffers outlive the calls.
    unsafe {
        let socket = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        );
        if socket < 0 {
            return Err(io::Error::last_os_error());
        }
        let result = exchange(socket, &request);
        libc::close(socket);
        result
    }
}

/// Sends the request on the netlink socket and reads the kernel's acknowledgement.
///
/// # Safety
/// `socket` must be an open netlink route socket.
unsafe fn exchange(socket: i32, request: &Request) -> io::Result<()> {
    // SAFETY: the request is a plain C struct of the size given.
    let sent = unsafe {
        libc::send(
            socket,
            (request as *const Request).cast(),
            size_of::<Request>(),
            0,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut answer = [0u8; 256];
    // SAFETY: reads into a buffer of the size given.
    let received = unsafe { libc::recv(socket, answer.as_mut_ptr().cast(), answer.len(), 0) };
    if received < 0 {
        return Err(io::Error::last_os_error());
    }
    // An acknowledgement is an NLMSG_ERROR message whose error is 0 (16-byte header, then i32).
    let kind = u16::from_ne_bytes([answer[4], answer[5]]);
    let error = i32::from_ne_bytes([answer[16], answer[17], answer[18], answer[19]]);
    if received < 20 || kind != NLMSG_ERROR {
        return Err(io::Error::other("an unexpected answer to a route request"));
    }
    if error != 0 {
        return Err(io::Error::from_raw_os_error(-error));
    }
    Ok(())
}
