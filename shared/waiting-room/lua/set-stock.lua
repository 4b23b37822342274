-- Records what is left to sell (after a batch's commit). ARGV[3] open | none | sold-out.
-- A sale that sells out is published at once: every waiting member reads sold-out.
set_stock(ARGV[3])
if ARGV[3] == 'sold-out' then publish(head(now_ms())) end
return 1
