"""What Fimble knows about remote inference servers, without talking to one."""
