-- Keys made before webhooks existed get a signing secret of their own (whsec_ + 32 hex characters).
UPDATE tokens SET webhook_secret = 'whsec_' || md5(random()::text || id::text || clock_timestamp()::text) WHERE webhook_secret = '';
