"""Operations pages: process board (O1), trace search (O3), exception tickets (O4), metrics."""
