/**
 * The numbered steps `npm run example:dataspace` prints, in order. Kept in
 * their own module so test/example-dataspace.test.ts can check that every
 * one of them ran.
 */
export const STEPS = [
  'A hub daemon serves the HTTP API',
  'Three participants: issuer, acme (holder), beta (verifier)',
  'acme advertises its CredentialService in its DID document',
  'The issuer issues a MembershipCredential to acme (DCP Storage API)',
  'acme lets beta read its MembershipCredential: tokens from acme\'s STS',
  'beta checks acme\'s ID token and gets its own from beta\'s STS',
  'beta resolves acme\'s DID over HTTP and queries its CredentialService',
  'beta verifies the presentation and the credential inside it',
  'beta asks for a credential type it was not granted',
  'acme rotates its key: the earlier presentation still verifies',
  'acme revokes the old key: the earlier presentation no longer verifies',
  'The daemon stops'
] as const
