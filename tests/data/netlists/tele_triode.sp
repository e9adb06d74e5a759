// Single-stage telescopic fully differential OTA whose tail is split into two
// triode devices gated by the outputs (triode common-mode sensing, no CMFB amplifier).
// Dummies flank the input pair; a MOS capacitor decouples the PMOS bias line.
subckt tele_triode INP INN OUTP OUTN IREF VDD VSS
M1 (x1 INP tail VSS) nch_lvt l=0.2u w=24u m=1 nf=8
M2 (x2 INN tail VSS) nch_lvt l=0.2u w=24u m=1 nf=8
MD1 (VSS VSS VSS VSS) nch_lvt l=0.2u w=3u m=1 nf=1
MD2 (VSS VSS VSS VSS) nch_lvt l=0.2u w=3u m=1 nf=1
M3 (OUTN vcn x1 VSS) nch l=0.2u w=16u m=1 nf=8
M4 (OUTP vcn x2 VSS) nch l=0.2u w=16u m=1 nf=8
M5 (OUTN vcp y1 VDD) pch l=0.2u w=24u m=1 nf=8
M6 (OUTP vcp y2 VDD) pch l=0.2u w=24u m=1 nf=8
M7 (y1 vbp VDD VDD) pch l=0.5u w=24u m=1 nf=8
M8 (y2 vbp VDD VDD) pch l=0.5u w=24u m=1 nf=8
M9 (tail OUTP VSS VSS) nch l=1u w=4u m=1 nf=2
M10 (tail OUTN VSS VSS) nch l=1u w=4u m=1 nf=2
M20 (IREF IREF VSS VSS) nch l=0.5u w=4u m=1 nf=2
M21 (vbp IREF VSS VSS) nch l=0.5u w=4u m=1 nf=2
M22 (vbp vbp VDD VDD) pch l=0.5u w=8u m=1 nf=2
M23 (vcn vbp VDD VDD) pch l=0.5u w=4u m=1 nf=2
M24 (vcn vcn VSS VSS) nch l=2u w=2u m=1 nf=1
M25 (vcp IREF VSS VSS) nch l=0.5u w=4u m=1 nf=2
M26 (vcp vcp VDD VDD) pch l=2u w=4u m=1 nf=1
MC1 (VDD vbp VDD VDD) pch l=2u w=20u m=1 nf=4
ends tele_triode
