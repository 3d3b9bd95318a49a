"""The support desk inside the Saleor Dashboard: the App manifest, its pages and their tokens."""
