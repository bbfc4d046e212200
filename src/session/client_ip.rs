//! The client's IP address: the socket peer, or a forwarded header only when
//! `TRUSTED_PROXY_HEADERS` names it (sessions §3.3).

use actix_web::HttpRequest;

use crate::config::ClientIpSource;

/// The client address for session binding and audit.
pub fn client_ip(req: &HttpRequest, source: &ClientIpSource) -> String {
    let peer = || {
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match source {
        ClientIpSource::Socket => peer(),
        ClientIpSource::XForwardedFor => header("x-forwarded-for")
            .and_then(|v| {
                // The right-most entry is the one our own proxy appended.
                v.rsplit(',')
                    .map(str::trim)
                    .find(|s| !s.is_empty())
                    .and_then(valid_ip)
            })
            .unwrap_or_else(peer),
        ClientIpSource::XRealIp => header("x-real-ip")
            .and_then(|v| valid_ip(v.trim()))
            .unwrap_or_else(peer),
    }
}

fn valid_ip(s: &str) -> Option<String> {
    s.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_header_used_only_when_trusted() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.2.3.4, 192.0.2.9"))
            .insert_header(("x-real-ip", "192.0.2.7"))
            .to_http_request();
        assert_eq!(client_ip(&req, &ClientIpSource::Socket), "10.0.0.1");
        assert_eq!(client_ip(&req, &ClientIpSource::XForwardedFor), "192.0.2.9");
        assert_eq!(client_ip(&req, &ClientIpSource::XRealIp), "192.0.2.7");
    }

    #[test]
    fn garbage_forwarded_header_falls_back_to_peer() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "'; DROP TABLE x; --"))
            .to_http_request();
        assert_eq!(client_ip(&req, &ClientIpSource::XForwardedFor), "10.0.0.1");
    }
}
