"""The NSS server (nssd): configuration, services and the NSSDService."""
