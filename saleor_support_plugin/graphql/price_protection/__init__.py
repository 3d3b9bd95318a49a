"""Price protection over GraphQL: claims, their history and staff decisions."""
