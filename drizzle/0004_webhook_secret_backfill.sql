-- Keys made before webhooks existed get a signing secret of their own (whsec_ + 32 hex characters).
UPDATE tokens SET webhook_secret = 'whsec_' || lower(hex(randomblob(16))) WHERE webhook_secret = '';
