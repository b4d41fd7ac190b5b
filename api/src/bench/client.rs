//! A minimal HTTP/1.1 client: one keep-alive TCP connection, one request at a time.
//!
//! Enough for the benchmark and nothing more: it sends a request with a `Content-Length` body
//! and reads the answer by `Content-Length`, `Transfer-Encoding: chunked` or the end of the
//! connection; a `Connection: close` answer (or a broken connection) makes the next request
//! reconnect.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    /// Path and query, e.g. `/api/v1/me`.
    pub path: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub bearer: Option<String>,
    /// Further headers.
    pub headers: Vec<(&'static str, String)>,
    /// A JSON body.
    pub json: Option<Vec<u8>>,
    /// The status a correct answer has; any other counts as an error.
    pub expect: u16,
}

impl Request {
    /// A GET expecting 200.
    #[must_use]
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: "GET",
            path: path.into(),
            bearer: None,
            headers: Vec::new(),
            json: None,
            expect: 200,
        }
    }

    /// A POST of JSON expecting `expect`.
    #[must_use]
    pub fn post_json(path: impl Into<String>, json: Vec<u8>, expect: u16) -> Self {
        Self {
            method: "POST",
            path: path.into(),
            bearer: None,
            headers: Vec::new(),
            json: Some(json),
            expect,
        }
    }

    #[must_use]
    pub fn bearer(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_owned());
        self
    }

    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text, for messages.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive connection to a server.
#[derive(Debug)]
pub struct Connection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    /// Bytes read and not yet consumed.
    input: Vec<u8>,
    /// The request being written.
    output: Vec<u8>,
}

fn bad_answer(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// How the body of an answer ends.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

impl Connection {
    /// Connects to `addr`.
    ///
    /// # Errors
    /// When the connection cannot be made.
    pub async fn open(addr: SocketAddr) -> io::Result<Self> {
        let mut connection = Self {
            addr,
            stream: None,
            input: Vec::with_capacity(16 * 1024),
            output: Vec::with_capacity(4 * 1024),
        };
        connection.connect().await?;
        Ok(connection)
    }

    async fn connect(&mut self) -> io::Result<()> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        self.input.clear();
        self.stream = Some(stream);
        Ok(())
    }

    /// Sends a request and reads its answer. After an error the connection is dropped and the
    /// next request opens a new one.
    ///
    /// # Errors
    /// When the connection fails or the answer is not HTTP/1.1.
    pub async fn send(&mut self, request: &Request) -> io::Result<Response> {
        let result = self.exchange(request).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self, request: &Request) -> io::Result<Response> {
        self.encode(request);
        if self.stream.is_none() {
            self.connect().await?;
        }
        if let Some(stream) = self.stream.as_mut() {
            stream.write_all(&self.output).await?;
        }
        let (response, keep_alive) = self.read_response().await?;
        if !keep_alive {
            self.stream = None;
        }
        Ok(response)
    }

    fn encode(&mut self, request: &Request) {
        use std::io::Write;
        let out = &mut self.output;
        out.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            "{} {} HTTP/1.1\r\nHost: {}\r\n",
            request.method, request.path, self.addr
        );
        if let Some(token) = &request.bearer {
            let _ = write!(out, "Authorization: Bearer {token}\r\n");
        }
        for (name, value) in &request.headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        match &request.json {
            Some(body) => {
                let _ = write!(
                    out,
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                out.extend_from_slice(body);
            }
            None => out.extend_from_slice(b"\r\n"),
        }
    }

    /// Reads more bytes into the input buffer.
    async fn fill(&mut self) -> io::Result<usize> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "not connected"))?;
        self.input.reserve(16 * 1024);
        stream.read_buf(&mut self.input).await
    }

    async fn fill_or_eof(&mut self) -> io::Result<()> {
        if self.fill().await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection mid-answer",
            ));
        }
        Ok(())
    }

    /// Reads one answer; also says whether the connection stays open.
    async fn read_response(&mut self) -> io::Result<(Response, bool)> {
        let (head_len, status, framing, keep_alive) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&self.input) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let status = parsed.code.unwrap_or(0);
                    let mut framing = Framing::UntilClose;
                    let mut keep_alive = parsed.version == Some(1);
                    for header in parsed.headers.iter() {
                        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
                        if header.name.eq_ignore_ascii_case("content-length") {
                            let length = value
                                .parse()
                                .map_err(|_| bad_answer("a bad Content-Length"))?;
                            framing = Framing::Length(length);
                        } else if header.name.eq_ignore_ascii_case("transfer-encoding")
                            && value.eq_ignore_ascii_case("chunked")
                        {
                            framing = Framing::Chunked;
                        } else if header.name.eq_ignore_ascii_case("connection") {
                            keep_alive = !value.eq_ignore_ascii_case("close");
                        }
                    }
                    if status == 204 || status == 304 {
                        framing = Framing::Length(0);
                    }
                    break (head_len, status, framing, keep_alive);
                }
                Ok(httparse::Status::Partial) => self.fill_or_eof().await?,
                Err(e) => return Err(bad_answer(format!("not an HTTP/1.1 answer: {e}"))),
            }
        };
        let (body, consumed, keep_alive) = match framing {
            Framing::Length(length) => {
                while self.input.len() < head_len + length {
                    self.fill_or_eof().await?;
                }
                let body = self
                    .input
                    .get(head_len..head_len + length)
                    .unwrap_or_default();
                (body.to_vec(), head_len + length, keep_alive)
            }
            Framing::Chunked => {
                let (body, end) = self.read_chunked(head_len).await?;
                (body, end, keep_alive)
            }
            Framing::UntilClose => {
                while self.fill().await? > 0 {}
                let body = self.input.get(head_len..).unwrap_or_default().to_vec();
                (body, self.input.len(), false)
            }
        };
        self.input.drain(..consumed.min(self.input.len()));
        Ok((Response { status, body }, keep_alive))
    }

    /// The index of the next CRLF at or after `from`, reading more as needed.
    async fn line_end(&mut self, from: usize) -> io::Result<usize> {
        loop {
            if let Some(i) = self
                .input
                .get(from..)
                .and_then(|rest| rest.windows(2).position(|w| w == b"\r\n"))
            {
                return Ok(from + i);
            }
            self.fill_or_eof().await?;
        }
    }

    /// Decodes a chunked body starting at `at`; returns it and where the answer ends.
    async fn read_chunked(&mut self, mut at: usize) -> io::Result<(Vec<u8>, usize)> {
        let mut body = Vec::new();
        loop {
            let end = self.line_end(at).await?;
            let line = std::str::from_utf8(self.input.get(at..end).unwrap_or_default())
                .map_err(|_| bad_answer("a bad chunk size"))?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| bad_answer(format!("a bad chunk size {size_text:?}")))?;
            at = end + 2;
            if size == 0 {
                // Trailers, then an empty line.
                loop {
                    let end = self.line_end(at).await?;
                    let empty = end == at;
                    at = end + 2;
                    if empty {
                        return Ok((body, at));
                    }
                }
            }
            while self.input.len() < at + size + 2 {
                self.fill_or_eof().await?;
            }
            body.extend_from_slice(self.input.get(at..at + size).unwrap_or_default());
            at += size + 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers each request with the next canned answer, then closes.
    async fn canned(answers: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        actix_web::rt::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
            let mut buf = vec![0_u8; 4096];
            for answer in answers {
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(buf.get(..n).unwrap_or_default());
                }
                let _ = socket.write_all(answer).await;
            }
        });
        addr
    }

    #[actix_web::test]
    async fn reads_length_chunked_and_close_framed_answers_on_one_connection() {
        let addr = canned(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\nbye",
        ])
        .await;
        let mut connection = Connection::open(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let request = Request::get("/x");
        let mut answers = Vec::new();
        for _ in 0..4 {
            let answer = connection
                .send(&request)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            answers.push((answer.status, answer.text()));
        }
        assert_eq!(
            answers,
            vec![
                (200, "hello".to_owned()),
                (201, "abcde".to_owned()),
                (204, String::new()),
                (500, "bye".to_owned()),
            ]
        );
    }
}
