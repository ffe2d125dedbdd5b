export const USAGE = `hub — Identity Hub command line

Usage: hub <command> [options]   (every command takes --dir DIR and --json)

Hub
  init [--owner-key FILE]            create a hub for a new (or imported) owner DID (refuses to overwrite one)
  init --join INVITE [--blind | --role owner-device|blind] [--name N]
                                     create a hub that becomes another device of the inviting owner
  info                               owner DID, hub DID, peer id
  did                                the owner's DID document (did:key)
  doctor [--repair]                  verify every commit, signature and feed entry; rebuild every index and
                                     compare; --repair rewrites derived data (never signed data, never a
                                     value the hub can read); exits 1 unless clean (the report still printed)

Daemon
  start [--listen MULTIADDR]… [--bootstrap MULTIADDR]… [--http HOST:PORT]
                                     run the hub in the foreground (until Ctrl-C, SIGTERM or stop);
                                     meanwhile every other command on --dir goes through it; --http also
                                     serves the Identity API, did:web and DCP (admin key: DIR/http-admin.key)
  stop                               ask the running daemon to shut down and wait for it
  status                             whether a daemon runs, its pid, control URL and multiaddrs

Devices and sync (invite and peers need a running daemon)
  device invite [--ttl SECONDS] [--role owner-device|blind]
                                     a one-time invite for a new device (default 15 minutes)
  device list                        the owner's devices, revoked ones with revokedAt
  device revoke HUB_DID              revoke a device; it gets nothing more from any hub that learns of it
  peers                              connected peers and whether they are devices of the owner
  sync status                        per device: connected, last sync, commits behind
  sync --peer MULTIADDR              one sync pass with that peer (progress bar on a terminal)

Collections
  write [--strategy automerge|lww] [--encrypt]
                                     create an object from JSON on stdin (--encrypt keys its collection:
                                     from then on every write to it is encrypted at the edge)
  collection encrypt --context C --type T
                                     make a collection encrypted (a content key sealed to the owner and devices)
  update OBJECT_ID                   replace an object's value (JSON on stdin)
  read OBJECT_ID                     value, metadata and heads
  delete OBJECT_ID                   tombstone an object
  history OBJECT_ID                  every signed commit, verified
  query [--context C] [--type T] [--where FIELD=VALUE]… [--sort created|-created|updated|-updated]
        [--limit N] [--cursor X]     objects from the indexes; --where also takes > >= < <=
  query --tag TAG                    an encrypted collection by its tag (what a blind hub can answer: metadata only)
  export OBJECT_ID --out FILE        the object as an Automerge binary document

Permissions and sharing (on a hub holding the owner key)
  grant --grantee DID --context C --type T --allow CRUD [--object OBJECT_ID] [--expires RFC3339]
                                     let another DID (an app, a person) use a collection: --allow is the
                                     DIF string, e.g. -R--, CR--, CRUD; replicates to every device
  grants [--grantee DID]             the grants, with active/expired/revoked state
  revoke GRANT_ID                    revoke a grant (encrypted collections move to a new key)
  audit [--limit N] [--after SEQ]    every request by anyone but the owner, allowed or denied
  follow --owner DID --peer MULTIADDR
                                     pull what another owner shares with yours (needs a running daemon)
  shared --owner DID [--context C] [--type T]
                                     read what that owner shared with you

Organization identity (participant contexts, keys, did:web, credentials, DCP; see docs/organization.md)
  participant create --id ID --did did:web:… [--active] [--key-id K]
                                     a participant context with its default key pair; prints its API key once
  participant list
  participant activate|deactivate|delete ID
                                     CREATED → ACTIVATED ⇄ DEACTIVATED (activating publishes the DID document);
                                     delete removes everything it holds, private keys included
  keys list --participant ID
  keys create --participant ID [--key-id K] [--public-key JWK_FILE] [--activate]
  keys activate|revoke KEY_ID --participant ID
  keys rotate KEY_ID --participant ID [--successor K | --no-successor]
                                     destroy the private key, keep the public key verifying; a new
                                     generated key takes over unless --no-successor
  did show [--participant ID]        a participant's DID document (without: the owner's did:key document)
  did publish|unpublish --participant ID
  did add-service --participant ID --id '#credential-service' --type CredentialService --endpoint URL
  did remove-service SERVICE_ID --participant ID
                                     service endpoints of the DID document (DCP: CredentialService, IssuerService)
  credentials add --participant ID --jwt FILE
                                     store a JWT verifiable credential (its issuer signature is verified)
  credentials list --participant ID [--type T]
  credentials request --participant ID --issuer DID --definition DEF…
                                     ask an issuer (DCP) for credentials; they arrive through the Storage API
                                     (needs a daemon with --http to receive them)
  credentials requests --participant ID [HOLDER_PID]
                                     the credential requests sent, with their status
  issuance define --participant ID --id DEF --type T [--holder DID…] [--validity SECONDS] [--claims JSON] [--status-list]
                                     a credential this participant issues over DCP (--holder: only to these DIDs;
                                     --status-list: revocable, with an entry in its own status list)
  issuance list|requests|issued --participant ID
                                     its credential definitions | the issuance requests it received |
                                     the credentials it issued into status lists (list, index, revoked)
  issuance revoke CREDENTIAL_ID --participant ID
                                     revoke an issued credential: its bit is set in the served status list
  issuance delete DEF --participant ID
  dcp token --participant ID --audience DID (--scope SCOPE… | --token ACCESS_TOKEN) [--ttl SECONDS]
                                     holder: an access token for the verifier inside an ID token; verifier:
                                     an ID token carrying the holder's access token (for presentation queries)

Profile
  profile get                        the public profile
  profile set                        set it from JSON on stdin

Apps (no hub directory, no daemon: talk to a running hub over the network)
  identity new --out FILE            a new app identity: an Ed25519 key file (0600, never overwritten); prints its DID
  client write --hub MULTIADDR --key FILE --owner DID [--strategy automerge|lww]
                                     create an object (JSON on stdin) as the app; needs a grant with C
  client read|history|delete --hub MULTIADDR --key FILE --owner DID OBJECT_ID
  client update --hub MULTIADDR --key FILE --owner DID OBJECT_ID
                                     replace the value (JSON on stdin); the app signs the minimal change
  client query --hub MULTIADDR --key FILE --owner DID --type T [--context C] [--where …] [--sort …] [--limit N] [--cursor X]
                                     --context defaults to https://schema.org
  MULTIADDR ends with /p2p/<peer id> (see "hub status --json"); the owner grants the app's DID first.

--dir defaults to $HUB_DIR, then ~/.identity-hub. HUB_LOG=debug|info logs JSON lines to stderr.
While a daemon runs, commands reach it over a local channel authenticated by DIR/control.secret.
`
