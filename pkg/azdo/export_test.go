package azdo

import "net/http"

// TransportForTest exposes a client's transport to the external tests.
func TransportForTest(c *Client) http.RoundTripper { return c.tr }
