export const USAGE = `hub — Identity Hub command line

Usage: hub <command> [options]   (every command takes --dir DIR and --json)

Hub
  init [--owner-key FILE]            create a hub (refuses to overwrite one)
  info                               owner DID, hub DID, peer id
  did                                the owner's DID document

Collections
  write [--strategy automerge|lww]   create an object from JSON on stdin
  update OBJECT_ID                   replace an object's value (JSON on stdin)
  read OBJECT_ID                     value, metadata and heads
  delete OBJECT_ID                   tombstone an object
  history OBJECT_ID                  every signed commit, verified
  query [--context C] [--type T] [--where FIELD=VALUE]… [--sort created|-created|updated|-updated]
        [--limit N] [--cursor X]     objects from the indexes; --where also takes > >= < <=
  export OBJECT_ID --out FILE        the object as an Automerge binary document

Profile
  profile get                        the public profile
  profile set                        set it from JSON on stdin

--dir defaults to $HUB_DIR, then ~/.identity-hub. HUB_LOG=debug|info logs JSON lines to stderr.
`
